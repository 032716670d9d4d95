"""The markdown summary of one benchmark run (bench/results/*.md): ours, the same-run baseline, the ratio,
the issue's target and the DBOS 3.4 reference side by side."""

from __future__ import annotations

from typing import Any


def _s(value: Any, unit: str = "s", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value * 1000:.{digits}f} ms" if isinstance(value, float) and value < 1 else f"{value} ms"
    return f"{value:.{digits}f} {unit}".strip()


def _pp(summary: dict[str, Any] | None, unit: str = "s") -> str:
    if not summary or not summary.get("n"):
        return "n/a"
    return f"p50 {_s(summary['p50'], unit)} / p95 {_s(summary['p95'], unit)} (n={summary['n']})"


def _ratio(a: Any, b: Any) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _lookup(x: dict[str, Any]) -> str:
    lat = (x.get("select_by_key") or {}).get("latency_ms")
    return f"read-only lookup by key p50 {lat['p50']} ms / p95 {lat['p95']} ms" if lat else ""


def _envs(env: dict[str, str]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in env.items())


def _before_label(r: dict[str, Any]) -> str:
    # Runs made before the project set its own idle sleep have no "before_env": they ran Airflow's default.
    return f"Airflow's default, {_envs(r.get('before_env') or {})}" if r.get("before_env") else "default 1 s"


def _after_label(aft: dict[str, Any]) -> str:
    if aft["env"]:
        return _envs(aft["env"])
    return f"the project's config ({_envs(aft.get('effective_env') or {})})"


def markdown(r: dict[str, Any]) -> str:
    dbos = r["dbos_reference"]
    lines = [
        f"# Benchmarks {r['when']} ({r['mode']})",
        "",
        f"Machine: {r['machine']['cpus']} cores, Python {r['machine']['python']}, Postgres "
        f"{r['machine']['postgres']}; load average at start {r['machine']['load_avg_start'][0]:.1f}, at end "
        f"{r['machine'].get('load_avg_end', [0])[0]:.1f} (the machine is shared: compare ratios). "
        f"Total {r.get('duration_s', 0):.0f} s. Settings: `{r['config']}`.",
        "",
        "| # | figure | ours | baseline, same run | ratio | target | met | DBOS 3.4 ref |",
        "|---|---|---|---|---|---|---|---|",
    ]
    res = r.get("resume")
    if res:
        p1, h1 = res["webhook_to_wait_end"], res["hitl_to_approval_end"]
        poke = (r.get("poke") or {}).get("webhook_to_wait_end")
        base = f"HITL answer -> approval ended {_pp(h1)}"
        if poke:
            base += f"; poke sensor (30 s) {_pp(poke)}"
        rat = f"{_ratio(p1['p50'], h1['p50'])} vs HITL" + (
            f", {_ratio(p1['p50'], poke['p50'])} vs poke" if poke else ""
        )
        lines.append(
            f"| 1 | resume part 1: webhook 202 -> wait task ended | {_pp(p1)} | {base} | {rat} (p50) "
            f"| p50 <= 0.1 s | {_met(p1['p50'] <= 0.1)} | message -> resumed done p50 "
            f"{dbos['message_to_resumed_done_p50_s'] * 1000:.1f} ms |"
        )
        p2, h2 = res["webhook_to_next_end"], res["hitl_to_next_end"]
        poke2 = (r.get("poke") or {}).get("webhook_to_next_end")
        base2 = f"HITL answer -> next task finished {_pp(h2)}" + (f"; poke {_pp(poke2)}" if poke2 else "")
        lines.append(
            f"| 2 | resume part 2: webhook 202 -> next task finished | {_pp(p2)} | {base2} | "
            f"{_ratio(p2['p50'], h2['p50'])} vs HITL (p50) | p50 <= 1.0 s, p95 <= 2.0 s | "
            f"{_met(p2['p50'] <= 1.0 and p2['p95'] <= 2.0)} | "
            f"{dbos['message_to_resumed_done_p50_s'] * 1000:.1f} ms (p50) |"
        )
    for aft in r.get("after") or []:
        if not res:
            break
        cpu_b = (r.get("idle_scheduler_cpu_before") or {}).get("scheduler_cpu_pct_of_one_core")
        cpu_a = aft["idle_scheduler_cpu"].get("scheduler_cpu_pct_of_one_core")
        a = aft["resume"]
        lines.append(
            f"| 2' | after: {_after_label(aft)} | part 1 {_pp(a['webhook_to_wait_end'])}; part 2 "
            f"{_pp(a['webhook_to_next_end'])}; HITL -> next {_pp(a['hitl_to_next_end'])}; idle scheduler "
            f"CPU {cpu_a} % of a core | before ({_before_label(r)}): part "
            f"2 {_pp(res['webhook_to_next_end'])}; HITL -> next "
            f"{_pp(res['hitl_to_next_end'])}; idle scheduler CPU {cpu_b} % | part 2 p50 "
            f"{_ratio(a['webhook_to_next_end']['p50'], res['webhook_to_next_end']['p50'])}, HITL -> next p50 "
            f"{_ratio(a['hitl_to_next_end']['p50'], res['hitl_to_next_end']['p50'])} of before | "
            f"p50 <= 1.0 s, p95 <= 2.0 s | "
            f"{_met(a['webhook_to_next_end']['p50'] <= 1.0 and a['webhook_to_next_end']['p95'] <= 2.0)} | |"
        )
    pk, n1, nv = r.get("parked"), r.get("parked_n1"), r.get("naive")
    if pk:
        conns = pk["pg_connections_parked"]
        waits_conns = conns["listener_app_name"]
        lines.append(
            f"| 3a | parked waits N={pk['n']}: where | {pk['running']} "
            f"running on {pk['triggerers_used']} triggerer(s) "
            f"(REST {pk['trigger_rest_s']} s, all running {pk['all_running_s']} s after) | | | all on one "
            f"triggerer | {_met(pk['triggerers_used'] == 1 and pk['running'] >= pk['n'])} | |"
        )
        naive_c = nv["pg_connections_parked"]["naive_app_name"] if nv else None
        lines.append(
            f"| 3b | Postgres connections held by the triggerer for waits | {waits_conns} at N={pk['n']} "
            f"(triggerer tree total {conns['total']}: {conns['by_db_app']}) | naive trigger: {naive_c} at "
            f"N={nv['n'] if nv else 'n/a'} | {_ratio(naive_c, waits_conns)} "
            f"| <= 2 | {_met(waits_conns <= 2)} | "
            f"<= {dbos['parked_pg_connections_max']} |"
        )
        naive_mem = (
            (
                f"{nv['pss_mib_per_1000_waits']} MiB/1000 in the triggerer + Postgres backends "
                f"{nv['pg_backends_for_waits_pss_mib']} MiB for {nv['n']} "
                f"(= {nv['pg_backends_for_waits_pss_mib'] / max(nv['n'], 1) * 1000:.0f} MiB/1000)"
            )
            if nv
            else "n/a"
        )
        lines.append(
            f"| 3c | memory per 1,000 waits (PSS) | triggerer +{pk['pss_mib_per_1000_waits']} MiB "
            f"(RSS +{pk['rss_mib_per_1000_waits']}); listener "
            f"backend {pk['pg_backends_for_waits_pss_mib']} MiB "
            f"| {naive_mem} | | reported | yes | +{dbos['parked_1000_mib']} MiB, one OS thread each |"
        )
        lines.append(
            f"| 3d | resume p95 at N={pk['n']} vs N=1 | {_pp(pk.get('webhook_to_wait_end'))} | N=1 "
            f"{_pp(n1['webhook_to_wait_end']) if n1 else 'n/a'} "
            f"| {pk.get('p95_ratio_vs_n1')}x | within 2x (at "
            f"10,000) | {_met(pk.get('p95_ratio_vs_n1') is not None and pk['p95_ratio_vs_n1'] <= 2)} "
            f"(N={pk['n']}) | |"
        )
        d = pk["drain"]
        lines.append(
            f"| 3e | drain: {d['n']} events in one INSERT | all "
            f"wait tasks ended {d['all_tasks_ended_s']} s, runs "
            f"finished {pk.get('runs_finished_after_drain_s')} "
            f"s after | naive {nv['drain']['n'] if nv else ''}: "
            f"{nv['drain']['all_tasks_ended_s'] if nv else 'n/a'} s | | | | |"
        )
    lg = r.get("ledger")
    if lg:
        for w in (1, 8):
            x = lg[f"writers_{w}"]
            lines.append(
                f"| 4 | run_step, {w} writer(s) | insert {x['run_step_insert']['keys_per_s']:.0f} keys/s "
                f"(p50 {x['run_step_insert']['latency_ms']['p50']} ms); replay "
                f"{x['run_step_replay']['keys_per_s']:.0f} keys/s, "
                f"p50 {x['run_step_replay']['latency_ms']['p50']} ms "
                f"/ p95 {x['run_step_replay']['latency_ms']['p95']} ms | plain INSERT "
                f"{x['plain_insert']['keys_per_s']:.0f} rows/s (p50 "
                f"{x['plain_insert']['latency_ms']['p50']} ms); "
                f"{_lookup(x)} | "
                f"insert {x['ratio_insert_vs_plain_keys_per_s']}x, "
                f"replay {x['ratio_replay_vs_plain_keys_per_s']}x "
                f"| replay < 5 ms | {_met(x['run_step_replay']['latency_ms']['p95'] < 5)} (p95) | "
                f"{dbos['trivial_step_ms']} ms per trivial step |"
            )
    ps = r.get("parse")
    if ps:
        worst = max(ps["files"], key=lambda f: f["beyond_sdk_ms"])
        over = [f"{f['file']} {f['beyond_sdk_ms']:.0f}" for f in ps["files"] if not f["meets_target"]]
        each = ", ".join(f"{f['file'].removesuffix('.py')} {f['beyond_sdk_ms']:.0f}" for f in ps["files"])
        lines.append(
            f"| 5 | DAG parse beyond `import airflow.sdk` (ms, best of {ps['reps']}) | {each} | SDK alone "
            f"{ps['sdk_alone_ms'].get('best', ps['sdk_alone_ms']['median']):.0f} ms; "
            "a minimal @dag + @task file "
            f"{ps.get('floor_dag_beyond_sdk_ms', 'n/a')} ms beyond it | worst file "
            f"total {worst['ratio_total_vs_sdk_alone']}x the "
            f"SDK | < 50 ms each | {_met(not over)}{(' (' + ', '.join(over) + ')') if over else ''} | |"
        )
    tp = r.get("throughput")
    if tp:
        cpu = tp.get("cpu_s_during_window") or {}
        lines.append(
            f"| 6 | partner_approval runs, {tp['concurrency']} in flight, {tp['window_s']:.0f} s"
            f"{(', scheduler ' + _envs(tp['scheduler_env'])) if tp.get('scheduler_env') else ''} | "
            f"{tp['completed_runs_per_min']} completed runs/min after the first (Little's law: "
            f"{tp['littles_law_runs_per_min']}); run {_pp(tp['run_duration_s'])}; {tp['failed']} failed | "
            f"scheduler loop {_pp(tp['scheduler_loop_ms'], '')} "
            f"ms ({tp['scheduler_loop_ms'].get('loops')} loops); "
            f"{tp.get('task_instances_ended_in_window')} task instances, {tp.get('cpu_s_per_task_instance')} "
            f"CPU-s each; machine {tp.get('machine_cpu_during_window', {}).get('busy_pct')} % busy; CPU-s "
            f"{', '.join(f'{k} {v}' for k, v in cpu.items())} | | report | yes | |"
        )
    lines += ["", "## Notes", ""]
    if r.get("triggerer_restart"):
        t = r["triggerer_restart"]
        lines.append(
            f"- Fresh triggerer: its first wait took {t['first_wait_s']} s from start to end (the first "
            "connection lookup in a new triggerer is slow); later waits start in about a second."
        )

    def hot(profile: dict[str, Any], level: str, k: int = 5) -> str:
        data = (profile or {}).get(level) or {}
        return f"{data.get('cpu_s', 0)} CPU-s: " + "; ".join(
            f"{f} {v:.0%}" for f, v in data.get("hot", [])[:k]
        )

    prof = r.get("resume_profile")
    if prof:
        p = prof["scheduler_and_workers"]
        lines.append(
            f"- py-spy during {prof['samples']} webhook resumes ({prof['seconds']} s): scheduler "
            f"{hot(p, 'level_1')}. LocalExecutor workers {hot(p, 'level_2', 3)}. Task processes "
            f"{hot(p, 'level_3')}. Triggerer {hot(prof['triggerer'], 'level_1', 3)}; trigger runner "
            f"{hot(prof['triggerer'], 'level_2', 3)}."
        )
    if tp and tp.get("profile"):
        p = tp["profile"]
        lines.append(
            f"- py-spy under throughput load: scheduler {hot(p['scheduler'], 'level_1')}. Task processes "
            f"{hot(p['scheduler'], 'level_3')}. API server {hot(p['api-server'], 'level_1', 4)}."
        )
    if lg and lg.get("replay_8_profile"):
        lines.append(
            f"- py-spy, 8-writer replays (this process, idle included): "
            f"{hot(lg['replay_8_profile'], 'level_0', 6)}"
        )
    if ps:
        for f in ps["files"]:
            if f.get("top_imports_ms"):
                spy = f.get("py_spy") or {}
                if isinstance(spy, list):  # runs before the module-body profile: the hottest frames only
                    imports = ", ".join(
                        f"{m} {ms}" for m, ms in f["top_imports_ms"] if m not in ("airflow", "airflow.sdk")
                    )
                    frames = ", ".join(f"{c} {ms:.0f}" for c, ms in spy[:5])
                    lines.append(
                        f"- {f['file']} ({f['beyond_sdk_ms']:.0f} ms): imports (ms) {imports or '-'}; "
                        f"py-spy (ms at 1 kHz) {frames or '-'}"
                    )
                    continue
                mods = ", ".join(f"{m} {ms}" for m, ms in spy.get("imported_module_bodies_ms", [])[:4])
                calls = ", ".join(f"{c} {ms}" for c, ms in spy.get("top_level_calls_ms", [])[:3])
                lines.append(
                    f"- {f['file']} ({f['beyond_sdk_ms']:.0f} ms): py-spy of its module body (ms at 1 kHz, "
                    f"slowed by sampling; total {spy.get('module_body_ms')}): "
                    f"imported modules {mods or '-'}; "
                    f"top-level calls {calls or '-'}"
                )
    return "\n".join(lines) + "\n"
