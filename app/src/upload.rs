//! Adding photos from the browser: a file picker and a drop zone over the whole page, one
//! request per file with its own progress, then each photo's processing followed live (with
//! a status poll as the fallback). The timeline shows new photos by itself while the live
//! socket is open, and is reloaded otherwise. Without JavaScript the same form posts the files
//! and the server redirects back.

use leptos::prelude::*;

/// Where files go (`crates/flashbulb-web/src/upload.rs`).
pub const UPLOAD_URL: &str = "/api/upload";

/// One file's progress as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProgress {
    pub name: String,
    /// 0.0 to 1.0 while sending.
    pub sent: f64,
    pub state: FileState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    Sending,
    /// Stored; the derivatives are being made.
    Processing(i64),
    Ready,
    Duplicate,
    Failed(String),
}

impl FileState {
    pub fn label(&self) -> String {
        match self {
            FileState::Sending => "sending".into(),
            FileState::Processing(_) => "processing".into(),
            FileState::Ready => "added".into(),
            FileState::Duplicate => "already in your library".into(),
            FileState::Failed(reason) => reason.clone(),
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            FileState::Ready | FileState::Duplicate | FileState::Failed(_)
        )
    }
}

/// The upload button, the drop zone and the progress list.
#[island(lazy)]
pub fn Uploader() -> impl IntoView {
    let files = RwSignal::new(Vec::<FileProgress>::new());
    let dragging = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    client::listen_for_drops(files, dragging);
    #[cfg(feature = "hydrate")]
    client::follow_live(files);
    #[cfg(feature = "hydrate")]
    let on_pick = move |event: leptos::ev::Event| client::send_picked(event, files);
    #[cfg(not(feature = "hydrate"))]
    let on_pick = move |_: leptos::ev::Event| {};
    view! {
        <form
            class="uploader"
            method="post"
            action=UPLOAD_URL
            enctype="multipart/form-data"
            on:submit=move |event| {
                // With JavaScript, files go one request each as soon as they are picked.
                if cfg!(feature = "hydrate") {
                    event.prevent_default();
                }
            }
        >
            <label class="button upload-button">
                "Upload photos"
                <input
                    type="file"
                    name="file"
                    multiple
                    accept="image/jpeg,image/png,image/gif,image/webp,image/tiff,image/bmp,image/heic,image/heif,image/avif,.heic,.heif,.hif,.avif"
                    class="visually-hidden"
                    on:change=on_pick
                />
            </label>
            <noscript>
                <button type="submit" class="button">"Send"</button>
            </noscript>
            <div class="drop-hint" class:dragging=move || dragging.get() aria-hidden="true">
                "Drop photos to add them"
            </div>
            <Show when=move || !files.read().is_empty()>
                <ul class="upload-list" aria-live="polite">
                    <For
                        each=move || files.get().into_iter().enumerate()
                        key=|(index, file)| (*index, file.state.label(), (file.sent * 100.0) as u32)
                        children=move |(_, file)| {
                            let failed = matches!(file.state, FileState::Failed(_));
                            view! {
                                <li class:failed=failed data-state=file.state.label()>
                                    <span class="upload-name">{file.name.clone()}</span>
                                    <progress max="1" value=file.sent></progress>
                                    <span class="upload-state">{file.state.label()}</span>
                                </li>
                            }
                        }
                    />
                </ul>
                // Files are followed by their place in the list: it empties only once every
                // one of them is done.
                <Show when=move || files.read().iter().all(|file| file.state.is_final())>
                    <button type="button" class="link-button upload-dismiss" on:click=move |_| files.set(Vec::new())>
                        "Dismiss"
                    </button>
                </Show>
            </Show>
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use leptos::{
        prelude::*,
        wasm_bindgen::{closure::Closure, JsCast},
    };

    use super::{FileProgress, FileState, UPLOAD_URL};

    pub fn listen_for_drops(files: RwSignal<Vec<FileProgress>>, dragging: RwSignal<bool>) {
        let over = window_event_listener(leptos::ev::dragover, move |event| {
            event.prevent_default();
            dragging.set(true);
        });
        let leave = window_event_listener(leptos::ev::dragleave, move |event| {
            // Leaving the window, not moving between elements.
            if event.client_x() <= 0 && event.client_y() <= 0 {
                dragging.set(false);
            }
        });
        let drop = window_event_listener(leptos::ev::drop, move |event| {
            event.prevent_default();
            dragging.set(false);
            if let Some(list) = event.data_transfer().and_then(|transfer| transfer.files()) {
                send_all(list, files);
            }
        });
        on_cleanup(move || {
            over.remove();
            leave.remove();
            drop.remove();
        });
    }

    /// Marks photos ready or failed as soon as the hub says so.
    pub fn follow_live(files: RwSignal<Vec<FileProgress>>) {
        use crate::live::{Addition, Change, PhotoStatus, ServerMessage};
        crate::live::on_message(move |message| {
            let ServerMessage::Frame { state, added, .. } = message else {
                return;
            };
            let mut outcomes: Vec<(i64, FileState)> = added
                .into_iter()
                .map(|Addition::Photo(cell)| (cell.id, FileState::Ready))
                .collect();
            for change in state {
                if let Change::Photo {
                    id,
                    status: PhotoStatus::Failed,
                    failure,
                    ..
                } = change
                {
                    let reason = failure.unwrap_or_else(|| "could not be read".into());
                    outcomes.push((id, FileState::Failed(reason)));
                }
            }
            if outcomes.is_empty() {
                return;
            }
            files.update(|all| {
                for file in all.iter_mut() {
                    if let FileState::Processing(id) = file.state {
                        if let Some((_, outcome)) = outcomes.iter().find(|(done, _)| *done == id) {
                            file.state = outcome.clone();
                        }
                    }
                }
            });
        });
    }

    pub fn send_picked(event: leptos::ev::Event, files: RwSignal<Vec<FileProgress>>) {
        let Some(input) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(list) = input.files() {
            send_all(list, files);
        }
        input.set_value("");
    }

    fn send_all(list: web_sys::FileList, files: RwSignal<Vec<FileProgress>>) {
        for index in 0..list.length() {
            let Some(file) = list.item(index) else {
                continue;
            };
            let slot = files.with_untracked(Vec::len);
            files.update(|all| {
                all.push(FileProgress {
                    name: file.name(),
                    sent: 0.0,
                    state: FileState::Sending,
                })
            });
            send(file, slot, files);
        }
    }

    fn set(
        files: RwSignal<Vec<FileProgress>>,
        slot: usize,
        change: impl FnOnce(&mut FileProgress),
    ) {
        files.update(|all| {
            if let Some(file) = all.get_mut(slot) {
                change(file);
            }
        });
    }

    /// One request per file, so each has its own progress and its own answer.
    fn send(file: web_sys::File, slot: usize, files: RwSignal<Vec<FileProgress>>) {
        let fail = move |reason: String| set(files, slot, |f| f.state = FileState::Failed(reason));
        let Ok(request) = web_sys::XmlHttpRequest::new() else {
            return fail("this browser cannot upload".into());
        };
        let Ok(form) = web_sys::FormData::new() else {
            return fail("this browser cannot upload".into());
        };
        if form
            .append_with_blob_and_filename("file", &file, &file.name())
            .is_err()
            || request.open("POST", UPLOAD_URL).is_err()
        {
            return fail("the file could not be read".into());
        }
        let _ = request.set_request_header("Accept", "application/json");
        if let Ok(upload) = request.upload() {
            let progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
                move |event: web_sys::ProgressEvent| {
                    if event.length_computable() && event.total() > 0.0 {
                        set(files, slot, |f| f.sent = event.loaded() / event.total());
                    }
                },
            );
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
            progress.forget();
        }
        let answered = request.clone();
        let done = Closure::<dyn FnMut()>::new(move || {
            let text = answered.response_text().ok().flatten().unwrap_or_default();
            let state = outcome(answered.status().unwrap_or(0), &text);
            let waiting = matches!(state, FileState::Processing(_));
            set(files, slot, |f| {
                f.sent = 1.0;
                f.state = state;
            });
            if waiting {
                leptos::task::spawn_local(wait_until_ready(files));
            }
        });
        request.set_onloadend(Some(done.as_ref().unchecked_ref()));
        done.forget();
        if request.send_with_opt_form_data(Some(&form)).is_err() {
            fail("the upload could not start".into());
        }
    }

    /// Reads the server's answer for one file.
    fn outcome(status: u16, body: &str) -> FileState {
        let json: serde_json::Value = match serde_json::from_str(body) {
            Ok(json) => json,
            Err(_) if status == 0 => return FileState::Failed("the connection broke off".into()),
            Err(_) => return FileState::Failed(format!("the server answered {status}")),
        };
        let file = &json["files"][0];
        match file["status"].as_str() {
            Some("added") => FileState::Processing(file["photo_id"].as_i64().unwrap_or(0)),
            Some("duplicate") => FileState::Duplicate,
            Some("rejected") => {
                FileState::Failed(file["reason"].as_str().unwrap_or("refused").to_string())
            }
            _ => FileState::Failed(
                json["error"]["message"]
                    .as_str()
                    .unwrap_or("the upload failed")
                    .to_string(),
            ),
        }
    }

    /// Asks for the state of every photo still processing until each is ready or failed (the
    /// live socket usually says so first); then, when everything is final and the timeline
    /// cannot show the new photos by itself, reloads the page.
    async fn wait_until_ready(files: RwSignal<Vec<FileProgress>>) {
        loop {
            sleep(if crate::live::is_open() { 3_000 } else { 700 }).await;
            let waiting: Vec<(usize, i64)> = files.with_untracked(|all| {
                all.iter()
                    .enumerate()
                    .filter_map(|(slot, f)| match f.state {
                        FileState::Processing(id) => Some((slot, id)),
                        _ => None,
                    })
                    .collect()
            });
            if waiting.is_empty() {
                break;
            }
            let ids: Vec<String> = waiting.iter().map(|(_, id)| id.to_string()).collect();
            let Ok(states) = fetch_states(&ids.join(",")).await else {
                continue;
            };
            for (slot, id) in waiting {
                match states.iter().find(|state| state["id"].as_i64() == Some(id)) {
                    Some(state) if state["status"] == "ready" => {
                        set(files, slot, |f| f.state = FileState::Ready)
                    }
                    Some(state) if state["status"] == "failed" => set(files, slot, |f| {
                        f.state = FileState::Failed(
                            state["failure"]
                                .as_str()
                                .unwrap_or("could not be read")
                                .to_string(),
                        )
                    }),
                    _ => {}
                }
            }
        }
        let everything_final = files.with_untracked(|all| all.iter().all(|f| f.state.is_final()));
        let added = files.with_untracked(|all| all.iter().any(|f| f.state == FileState::Ready));
        if everything_final && added && !crate::live::is_open() {
            let _ = window().location().reload();
        }
    }

    async fn sleep(millis: i32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let _ =
                window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    async fn fetch_states(ids: &str) -> Result<Vec<serde_json::Value>, String> {
        let url = format!("/api/photos/status?ids={ids}");
        let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(&url))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let response: web_sys::Response = response.dyn_into().map_err(|e| format!("{e:?}"))?;
        let text =
            wasm_bindgen_futures::JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?)
                .await
                .map_err(|e| format!("{e:?}"))?;
        let text = text.as_string().unwrap_or_default();
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}
