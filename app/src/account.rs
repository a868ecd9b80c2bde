//! Account pages: sign in, set up the first account, and the administrators' list of users
//! with its form to add one. Plain forms posted to the server, usable before any script loads.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{error::ApiError, model::UserSummary};

/// Every account, for administrators.
#[server(prefix = "/api", endpoint = "users")]
pub async fn load_users() -> Result<Vec<UserSummary>, ApiError> {
    let viewer = crate::backend::viewer().ok_or(ApiError::Unauthorized)?;
    if !viewer.admin {
        return Err(ApiError::Forbidden(
            "the list of users is for administrators".into(),
        ));
    }
    crate::backend::library()?.users().await
}

/// The sentence behind an error code the account forms come back with.
fn form_error(code: &str) -> &'static str {
    match code {
        "credentials" => "That name and password do not match an account.",
        "mismatch" => "The two passwords differ.",
        "password" => "A password has at least 8 characters (and at most 1,024 bytes).",
        "name" => "A user name has 1 to 64 characters, none of them control characters.",
        "taken" => "There is already a user with that name.",
        _ => "That did not work; please try again in a moment.",
    }
}

/// The reason an account form came back (its `error` code), as a sentence.
#[component]
fn FormError() -> impl IntoView {
    let query = use_query_map();
    move || {
        query.read().get("error").map(|code| {
            view! { <p class="form-error" role="alert">{form_error(&code)}</p> }
        })
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    // After a wrong password the name is kept, and the password field takes the focus.
    let name = query.read_untracked().get("name").unwrap_or_default();
    let retry = !name.is_empty();
    view! {
        <Title text="Sign in" />
        <section class="account">
            <h1>"Sign in"</h1>
            <FormError />
            <form class="account-form" method="post" action="/signin">
                <label>
                    "User name"
                    <input name="username" autocomplete="username" required maxlength="64" value=name autofocus=!retry />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required autofocus=retry />
                </label>
                <input type="hidden" name="next" value=next />
                <button class="button" type="submit">"Sign in"</button>
            </form>
        </section>
    }
}

#[component]
pub fn SetUpPage() -> impl IntoView {
    view! {
        <Title text="Welcome" />
        <section class="account">
            <h1>"Welcome to Flashbulb"</h1>
            <p class="muted">
                "Choose the name and password of the first account. It administers this \
                 installation: it can add other users and see the operations console."
            </p>
            <FormError />
            <form class="account-form" method="post" action="/setup">
                <label>
                    "User name"
                    <input name="username" autocomplete="username" required maxlength="64" autofocus />
                </label>
                <label>
                    "Password (8 characters or more)"
                    <input name="password" type="password" autocomplete="new-password" required minlength="8" />
                </label>
                <label>
                    "The password again"
                    <input name="confirm" type="password" autocomplete="new-password" required minlength="8" />
                </label>
                <button class="button" type="submit">"Create the account"</button>
            </form>
        </section>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_map();
    let added = move || query.read().get("added");
    let users = Resource::new_blocking(|| (), |_| load_users());
    view! {
        <Title text="Users" />
        <section class="account wide">
            <h1>"Users"</h1>
            <FormError />
            {move || added().map(|name| view! { <p class="form-done" role="status">"Added " {name} "."</p> })}
            <Suspense fallback=|| view! { <p class="notice">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(users) => view! { <UserTable users /> }.into_any(),
                        Err(error) => view! { <p class="notice">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <h2>"Add a user"</h2>
            <form class="account-form" method="post" action="/users">
                <label>
                    "User name"
                    <input name="username" autocomplete="off" required maxlength="64" />
                </label>
                <label>
                    "Password (8 characters or more)"
                    <input name="password" type="password" autocomplete="new-password" required minlength="8" />
                </label>
                <label class="check">
                    <input name="admin" type="checkbox" />
                    "Administrator"
                </label>
                <button class="button" type="submit">"Add the user"</button>
            </form>
        </section>
    }
}

#[component]
fn UserTable(users: Vec<UserSummary>) -> impl IntoView {
    view! {
        <table class="users">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Photos"</th>
                </tr>
            </thead>
            <tbody>
                {users
                    .into_iter()
                    .map(|user| {
                        let role = match (user.admin, user.can_sign_in) {
                            (_, false) => "no password yet",
                            (true, true) => "administrator",
                            (false, true) => "user",
                        };
                        view! {
                            <tr>
                                <td>{user.name}</td>
                                <td>{role}</td>
                                <td>{crate::format::thousands(user.photos.max(0) as u64)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
