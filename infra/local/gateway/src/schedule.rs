//! What the template's schedule does in AWS: the auto-complete pass every
//! `VIDGATE_AUTOCOMPLETE_IDLE_SECS` (the idle bound is the period, as in the template), and the
//! sweep of overdue uploads every `VIDGATE_SWEEP_SECS`.

use std::time::Duration;

use vidgate::App;

/// Runs the auto-complete pass every `config.autocomplete_idle`, forever.
pub async fn auto_complete(app: App) {
    let mut every = tokio::time::interval(app.config.autocomplete_idle);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = vidgate::events::auto_complete_uploads(&app).await {
            tracing::warn!(error = %e, "auto-complete pass failed");
        }
    }
}

/// Runs the expiry sweep every `period`, forever.
pub async fn sweep(app: App, period: Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = vidgate::events::expire_uploads(&app).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}
