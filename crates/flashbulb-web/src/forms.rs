//! The account forms' targets: sign in, sign out, set up the first account, add a user. Plain
//! HTML forms (they work before any script has loaded); each answers with a redirect, to the
//! page asked for or back to the form with an error code the form explains.

use app::format::encode_component;
use axum::{
    extract::{rejection::FormRejection, Request, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use flashbulb_core::CoreError;
use flashbulb_types::ApiError;
use serde::Deserialize;

use crate::access::viewer_of;
use crate::state::AppState;
use crate::WebError;

/// The forms carry a name and two passwords at most.
pub(crate) const MAX_FORM_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub(crate) async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let (form, secure) = match credentials_form::<SignInForm>(&state, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let next = local_path(&form.next);
    match flashbulb_core::users::authenticate(&state.db, &form.username, &form.password).await {
        Ok(Some(viewer)) => match state.access.sessions.start(viewer.id).await {
            Ok(token) => signed_in(&state, &token, secure, next),
            Err(error) => WebError(error).into_response(),
        },
        Ok(None) => {
            let next = if next == "/" {
                String::new()
            } else {
                format!("&next={}", encode_component(next))
            };
            // The name comes back filled in: only the password needs typing again.
            let name = encode_component(form.username.trim());
            Redirect::to(&format!("/signin?error=credentials&name={name}{next}")).into_response()
        }
        Err(error) => WebError(error).into_response(),
    }
}

pub(crate) async fn sign_out(State(state): State<AppState>, request: Request) -> Response {
    let secure = state.access.secure(request.headers());
    if let Some(token) = flashbulb_core::users::sessions::token(request.headers()) {
        if let Err(error) = state.access.sessions.end(token).await {
            return WebError(error).into_response();
        }
    }
    (
        [(
            header::SET_COOKIE,
            flashbulb_core::users::sessions::removal_cookie(secure),
        )],
        Redirect::to("/signin"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct SetUpForm {
    username: String,
    password: String,
    confirm: String,
}

/// The first account, made by the first visitor: an administrator. Refused once any account
/// can sign in.
pub(crate) async fn set_up(State(state): State<AppState>, request: Request) -> Response {
    let (form, secure) = match credentials_form::<SetUpForm>(&state, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    match state.access.is_set_up().await {
        Ok(true) => return Redirect::to("/signin").into_response(),
        Ok(false) => {}
        Err(error) => return WebError(error).into_response(),
    }
    if form.password != form.confirm {
        return Redirect::to("/setup?error=mismatch").into_response();
    }
    let added = flashbulb_core::users::add(&state.db, &form.username, &form.password, true).await;
    match added {
        Ok(id) => match state.access.sessions.start(id).await {
            Ok(token) => {
                tracing::info!(user = id, "first account set up");
                signed_in(&state, &token, secure, "/")
            }
            Err(error) => WebError(error).into_response(),
        },
        Err(error) => Redirect::to(&format!("/setup?error={}", form_error(&error))).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct AddUserForm {
    username: String,
    password: String,
    /// An HTML checkbox: present ("on") when ticked.
    #[serde(default)]
    admin: Option<String>,
}

/// An administrator adds a user (the route is for administrators only).
pub(crate) async fn add_user(State(state): State<AppState>, request: Request) -> Response {
    let Some(admin) = viewer_of(&request).filter(|viewer| viewer.admin).cloned() else {
        return WebError::from(ApiError::Forbidden("only administrators add users".into()))
            .into_response();
    };
    let form = match read_form::<AddUserForm>(request).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let is_admin = form.admin.is_some();
    match flashbulb_core::users::add(&state.db, &form.username, &form.password, is_admin).await {
        Ok(id) => {
            tracing::info!(user = id, by = admin.id, "user added");
            Redirect::to(&format!(
                "/users?added={}",
                encode_component(form.username.trim())
            ))
            .into_response()
        }
        Err(error) => Redirect::to(&format!("/users?error={}", form_error(&error))).into_response(),
    }
}

/// A form that carries a name and a password to try (sign-in, set-up), read within the
/// sign-in allowance of its address and of that name; with whether cookies go out `Secure`.
async fn credentials_form<T: serde::de::DeserializeOwned + NamesUser>(
    state: &AppState,
    request: Request,
) -> Result<(T, bool), Response> {
    let address = state.access.client_address(&request);
    let secure = state.access.secure(request.headers());
    let form = read_form::<T>(request).await?;
    if let Err(error) = state.access.check_signin_rate(address, form.username()) {
        tracing::warn!(%address, "sign-in attempts over the limit");
        return Err(WebError(error).into_response());
    }
    Ok((form, secure))
}

/// A form naming the user it is about.
trait NamesUser {
    fn username(&self) -> &str;
}

impl NamesUser for SignInForm {
    fn username(&self) -> &str {
        &self.username
    }
}

impl NamesUser for SetUpForm {
    fn username(&self) -> &str {
        &self.username
    }
}

/// Where a sign-in lands: the session cookie, then the page asked for.
fn signed_in(state: &AppState, token: &str, secure: bool, next: &str) -> Response {
    let cookie = flashbulb_core::users::sessions::cookie(
        token,
        state.access.sessions.lifetime_secs(),
        secure,
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

/// The form's error code, which the form page turns into a sentence.
fn form_error(error: &CoreError) -> &'static str {
    match error {
        CoreError::Refused(ApiError::BadRequest(message)) if message.contains("password") => {
            "password"
        }
        CoreError::Refused(ApiError::BadRequest(_)) => "name",
        CoreError::Refused(ApiError::Conflict(_)) => "taken",
        _ => "unavailable",
    }
}

async fn read_form<T: serde::de::DeserializeOwned>(request: Request) -> Result<T, Response> {
    let form: Result<Form<T>, FormRejection> =
        <Form<T> as axum::extract::FromRequest<()>>::from_request(request, &()).await;
    form.map(|Form(form)| form).map_err(|rejection| {
        let error = if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            CoreError::Refused(ApiError::TooLarge(format!(
                "a form is at most {MAX_FORM_BYTES} bytes"
            )))
        } else {
            CoreError::Refused(ApiError::BadRequest(format!(
                "the form could not be read: {}",
                rejection.body_text()
            )))
        };
        WebError(error).into_response()
    })
}

/// `next` when it is a path of this site, else the timeline: a sign-in link must not be able
/// to send anyone elsewhere.
pub fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local {
        next
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_leads_within_the_site() {
        assert_eq!(local_path("/albums/7?x=1"), "/albums/7?x=1");
        assert_eq!(local_path(""), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example/"), "/");
        assert_eq!(local_path("/a\r\nSet-Cookie: x"), "/");
        assert_eq!(local_path("javascript:alert(1)"), "/");
    }
}
