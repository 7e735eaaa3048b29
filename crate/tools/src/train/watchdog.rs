//! Turns a hang into an error: data-parallel steps that stop making progress (a collective
//! waiting forever for a peer, seen once on two H100s) end the process with a message instead
//! of holding the GPUs until someone notices.

use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A thread that calls `on_expiry` once if [`Watchdog::beat`] is not called for `timeout`.
/// Dropping it stops the thread without calling anything.
pub struct Watchdog {
    beats: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    pub fn start(timeout: Duration, on_expiry: impl FnOnce(Duration) + Send + 'static) -> Self {
        let (beats, receiver) = channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut last = Instant::now();
            loop {
                match receiver.recv_timeout(timeout.saturating_sub(last.elapsed())) {
                    Ok(()) => last = Instant::now(),
                    // Dropped: training ended normally.
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if last.elapsed() >= timeout {
                            on_expiry(last.elapsed());
                            return;
                        }
                    }
                }
            }
        });
        Self { beats: Some(beats), thread: Some(thread) }
    }

    /// Progress was made: the timeout starts again.
    pub fn beat(&self) {
        if let Some(beats) = &self.beats {
            let _ = beats.send(());
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.beats.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the trainer does when a data-parallel step hangs: a hung collective cannot be
/// cancelled from another thread, so the process ends (exit code 75) after saying why; the
/// run resumes from its last checkpoint.
pub fn abort_hung_step(devices: usize) -> impl FnOnce(Duration) + Send + 'static {
    move |waited| {
        eprintln!(
            "\nerror: a data-parallel training step on {devices} devices made no progress for {:.0} s: a \
             collective is waiting for a device that never joins. Stopping; `lediflow train --resume` \
             continues from the last checkpoint (raise --step-timeout if single steps are this slow).",
            waited.as_secs_f64()
        );
        exit_now(75);
    }
}

/// Ends the process without running exit handlers. `std::process::exit` runs them, and the CUDA
/// and NCCL ones wait for the device: on two H100s a fired watchdog printed its message and the
/// process then sat in `exit` until the call's time limit.
fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    {
        unsafe extern "C" {
            /// POSIX: terminate the process at once, without atexit handlers or destructors.
            fn _exit(status: i32) -> !;
        }
        // SAFETY: `_exit` takes any status and never returns; skipping the exit handlers is the
        // point (nothing of ours needs flushing but stderr, flushed above).
        unsafe { _exit(code) }
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn flag() -> (Arc<AtomicBool>, impl FnOnce(Duration) + Send + 'static) {
        let fired = Arc::new(AtomicBool::new(false));
        let set = fired.clone();
        (fired, move |_| set.store(true, Ordering::SeqCst))
    }

    #[test]
    fn silence_fires_it() {
        let (fired, on_expiry) = flag();
        let dog = Watchdog::start(Duration::from_millis(40), on_expiry);
        std::thread::sleep(Duration::from_millis(200));
        drop(dog);
        assert!(fired.load(Ordering::SeqCst));
    }

    #[test]
    fn beats_keep_it_quiet_and_drop_stops_it() {
        let (fired, on_expiry) = flag();
        let dog = Watchdog::start(Duration::from_millis(150), on_expiry);
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(15));
            dog.beat();
        }
        drop(dog);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!fired.load(Ordering::SeqCst));
    }

    /// Run only as a child of the test below: registers an exit handler that never returns
    /// (standing in for a CUDA one waiting on a hung device), then ends as the watchdog does.
    #[test]
    #[ignore = "a child process of the test below"]
    #[cfg(unix)]
    fn child_ends_despite_a_hanging_exit_handler() {
        unsafe extern "C" {
            fn atexit(handler: extern "C" fn()) -> i32;
        }
        extern "C" fn hang() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        // SAFETY: registers a plain function; `atexit` only stores its address.
        assert_eq!(unsafe { atexit(hang) }, 0);
        exit_now(75);
    }

    #[test]
    #[cfg(unix)]
    fn the_process_ends_with_75_even_when_exit_handlers_hang() {
        let mut child = std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "train::watchdog::tests::child_ends_despite_a_hanging_exit_handler", "--ignored"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the test binary");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the child") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("the child did not end: exit handlers ran");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(75));
    }
}
