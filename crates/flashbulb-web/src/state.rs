//! The one application state every handler and server function reaches: the services
//! ([`Core`]) and what only HTTP needs beside them.

use std::sync::Arc;

use axum::extract::FromRef;
use flashbulb_core::{background::Background, services::Core, Settings};
use flashbulb_store::Pool;
use leptos::config::LeptosOptions;

use crate::{access::Access, assets::SiteFiles, settings::WebSettings};

/// Cheap to clone: axum clones a route's state for every request that passes through a
/// layer, hits of the page cache included, and cloning every field each time cost a fifth
/// of a cached page's time.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The services, and what only HTTP needs beside them. Fields of [`Core`] are reached through
/// it as if they were its own (`state.db`).
pub struct Shared {
    pub core: Core,
    pub leptos_options: LeptosOptions,
    /// Sessions, who may reach which route, and the sign-in and upload rate limits.
    pub access: Access,
    /// The web layer's section of the configuration.
    pub web: WebSettings,
    /// The site's content-named files, once read.
    pub site_files: SiteFiles,
}

impl std::ops::Deref for Shared {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl AppState {
    /// Makes every service and the web layer's own parts; none starts a task
    /// ([`AppState::start`] does).
    pub fn new(settings: Settings, web: WebSettings, db: Pool) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name("flashbulb")
            .site_root(web.site_root.to_string_lossy().as_ref())
            .site_addr(web.listen)
            .hash_files(crate::assets::site_files_hashed())
            .build();
        let access = Access::new(db.clone(), &web);
        Self(Arc::new(Shared {
            core: Core::new(settings, db),
            leptos_options,
            access,
            web,
            site_files: SiteFiles::default(),
        }))
    }

    /// Starts every task the services run beside requests; they stop when the returned tasks
    /// are dropped.
    pub fn start(&self) -> Background {
        let mut background = self.core.start();
        background.push("forget idle clients", self.access.start());
        background
    }
}
