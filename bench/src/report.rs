//! The report: one [`Figure`] per line, beside its same-run baseline; [`Sample`]s of calls and
//! the closed loop that takes them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::Code;

/// One line of the report.
pub(crate) struct Figure {
    pub(crate) scenario: &'static str,
    pub(crate) name: String,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
    pub(crate) baseline: Option<(String, f64)>,
}

impl Figure {
    pub(crate) fn print(&self, json: bool) {
        let ratio = self
            .baseline
            .as_ref()
            .map(|(_, b)| if *b > 0.0 { self.value / b } else { 0.0 });
        if json {
            let baseline = self
                .baseline
                .as_ref()
                .map(|(n, b)| {
                    format!(
                        ",\"baseline\":\"{n}\",\"baseline_value\":{b:.3},\"ratio\":{:.3}",
                        ratio.unwrap_or(0.0)
                    )
                })
                .unwrap_or_default();
            println!(
                "{{\"scenario\":\"{}\",\"figure\":\"{}\",\"value\":{:.3},\"unit\":\"{}\"{baseline}}}",
                self.scenario, self.name, self.value, self.unit
            );
        } else {
            let baseline = self
                .baseline
                .as_ref()
                .map(|(n, b)| format!("{b:>12.1}  {n:<24} {:>6.1} %", ratio.unwrap_or(0.0) * 100.0))
                .unwrap_or_default();
            println!(
                "| {:<9} | {:<28} | {:>12.1} {:<6} | {baseline}",
                self.scenario, self.name, self.value, self.unit
            );
        }
    }
}

/// Latencies and outcomes of a batch of calls.
#[derive(Default)]
pub(crate) struct Sample {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) codes: std::collections::BTreeMap<String, usize>,
    pub(crate) elapsed: Duration,
}

impl Sample {
    pub(crate) fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
}

/// Runs `calls` calls of `call(i)` with `concurrency` in flight, printing progress.
pub(crate) async fn closed_loop<F, Fut>(
    label: &str,
    calls: usize,
    concurrency: usize,
    call: F,
) -> Sample
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Code>> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = tokio::spawn({
        let done = done.clone();
        let label = label.to_owned();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                eprint!(
                    "\r  {label}: {}/{calls} calls        ",
                    done.load(Ordering::Relaxed)
                );
            }
        }
    });
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (call, next, done) = (call.clone(), next.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= calls {
                    return sample;
                }
                let t = Instant::now();
                let outcome = call(i).await;
                sample.latencies.push(t.elapsed());
                let code = match outcome {
                    Ok(()) => "OK".to_owned(),
                    Err(code) => format!("{code:?}"),
                };
                *sample.codes.entry(code).or_default() += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut all = Sample::default();
    for worker in workers {
        if let Ok(sample) = worker.await {
            all.latencies.extend(sample.latencies);
            for (code, n) in sample.codes {
                *all.codes.entry(code).or_default() += n;
            }
        }
    }
    all.elapsed = started.elapsed();
    progress.abort();
    eprintln!(
        "\r  {label}: {calls} calls in {:.2} s; outcomes {:?}",
        all.elapsed.as_secs_f64(),
        all.codes
    );
    all
}

/// p50 and p99 of `sample` as figures named `"{name} p50 {mode}"`…, each against the same
/// percentile of `baseline` (named `"{baseline_name} p50"`…).
pub(crate) fn percentiles_against(
    figures: &mut Vec<Figure>,
    scenario: &'static str,
    name: &str,
    mode: &str,
    sample: &mut Sample,
    baseline_name: &str,
    baseline: &mut Sample,
) {
    for p in [0.5, 0.99] {
        let at = (p * 100.0) as u32;
        figures.push(Figure {
            scenario,
            name: format!("{name} p{at} {mode}").trim_end().to_owned(),
            value: sample.percentile(p),
            unit: "ms",
            baseline: Some((format!("{baseline_name} p{at}"), baseline.percentile(p))),
        });
    }
}
