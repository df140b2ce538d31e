//! SIGTERM / Ctrl-C for daemons. Registered eagerly: a signal that arrives right after
//! a daemon reports itself started must still mean "shut down cleanly", not "die".

pub struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers now (call before announcing readiness).
    pub fn register() -> std::io::Result<ShutdownSignal> {
        Ok(ShutdownSignal {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// Resolves on SIGTERM (what `mqshutdown` sends) or Ctrl-C.
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = self.term.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
