//! telemetry: what tracing and metrics cost, two servers side by side.

use crate::Args;
use crate::report::{Figure, Sample};
use crate::scenarios::reserve::reserve_seats;
use crate::target::Target;
use std::sync::Arc;
use std::time::Duration;

/// What tracing and metrics cost: the same Reserve load against a server with telemetry off and
/// one with OTLP traces (default sampling: every call), OTLP metrics and the Prometheus registry
/// on, alternating so that drift in the machine's speed hits both.
pub(crate) async fn telemetry(
    args: &Args,
    rounds: usize,
    on_env: &[(String, String)],
    figures: &mut Vec<Figure>,
) -> Result<(), Box<dyn std::error::Error>> {
    let sink = seatrush_testkit::otlp::Receiver::start(false).await;
    let endpoint = sink.endpoint();
    let off = Target::start(args).await?;
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", "5000".into()),
        ("SEATRUSH_ADMIN_LISTEN", "127.0.0.1:0".into()),
    ];
    env.extend(on_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let on = Target::start_with(args, &env).await?;
    let calls = args.calls.min(20_000);
    // Index 0: telemetry off, 1: on.
    let targets = [&off, &on];
    let mut totals = [Sample::default(), Sample::default()];
    let mut cpu = [0.0; 2];
    let mut prepared = Vec::new();
    for target in targets {
        prepared.push(Arc::new(target.users(64).await?));
    }
    let mut round_ratios = Vec::new();
    for round in 0..rounds.max(1) {
        // Alternate which goes first, so a trend in the machine's speed favours neither.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut rates = [0.0; 2];
        let cpu_before = targets.map(Target::cpu_seconds);
        for which in order {
            let target = targets[which];
            let (event, labels) = target.event(40, 500).await?;
            let label = format!("round {} telemetry {}", round + 1, ["off", "on"][which]);
            let sample = reserve_seats(
                &label,
                target,
                prepared[which].clone(),
                event,
                Arc::new(labels),
                calls,
                args.concurrency,
            )
            .await;
            rates[which] = sample.per_second();
            totals[which].elapsed += sample.elapsed;
            totals[which].latencies.extend(sample.latencies);
        }
        for (which, target) in targets.into_iter().enumerate() {
            cpu[which] += target.cpu_seconds() - cpu_before[which];
        }
        round_ratios.push(rates[1] / rates[0]);
    }
    let [mut off_sample, mut on_sample] = totals;
    let (off_calls, on_calls) = (off_sample.latencies.len(), on_sample.latencies.len());
    round_ratios.sort_by(f64::total_cmp);
    eprintln!(
        "  on/off per round: {}",
        round_ratios
            .iter()
            .map(|r| format!("{:.1} %", r * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Let the last batch of spans reach the sink before counting.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let spans = sink.span_count() as f64;
    figures.push(Figure {
        scenario: "telemetry",
        name: "reserves/s, telemetry on".into(),
        value: on_sample.per_second(),
        unit: "1/s",
        baseline: Some(("telemetry off".into(), off_sample.per_second())),
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "server CPU per reserve, on".into(),
        value: cpu[1] * 1e6 / on_calls.max(1) as f64,
        unit: "us",
        baseline: Some((
            "telemetry off".into(),
            cpu[0] * 1e6 / off_calls.max(1) as f64,
        )),
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "median round, on / off".into(),
        value: round_ratios[round_ratios.len() / 2] * 100.0,
        unit: "%",
        baseline: None,
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "latency p99, telemetry on".into(),
        value: on_sample.percentile(0.99),
        unit: "ms",
        baseline: Some(("telemetry off".into(), off_sample.percentile(0.99))),
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "spans exported per reserve".into(),
        value: spans / on_calls.max(1) as f64,
        unit: "spans",
        baseline: None,
    });
    figures.push(Figure {
        scenario: "telemetry",
        name: "metric exports received".into(),
        value: sink.metric_exports() as f64,
        unit: "",
        baseline: None,
    });
    off.stop().await;
    on.stop().await;
    Ok(())
}
