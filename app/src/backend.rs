//! The seam between pages and storage, as pages reach it: the [`Library`] and [`Operations`]
//! the server provided for this request, and the signed-in viewer.

use leptos::prelude::use_context;

pub use flashbulb_types::library::{Library, Operations, SharedLibrary, SharedOperations};

use crate::{
    error::ApiError,
    model::{UserId, Viewer},
};

/// The library the server provided for this request.
pub fn library() -> Result<SharedLibrary, ApiError> {
    use_context::<SharedLibrary>().ok_or(ApiError::Internal)
}

/// The signed-in user this request is made for; the server provides it for every request
/// its guard let through with a session.
pub fn viewer() -> Option<Viewer> {
    use_context::<Viewer>()
}

/// The library and the signed-in user whose library this request sees.
pub async fn owner_library() -> Result<(SharedLibrary, UserId), ApiError> {
    let owner = viewer().ok_or(ApiError::Unauthorized)?.id;
    Ok((library()?, owner))
}

/// The operations source the server provided for this request.
pub fn operations() -> Result<SharedOperations, ApiError> {
    use_context::<SharedOperations>().ok_or(ApiError::Internal)
}
