"""The markdown summary of one benchmark run (bench/results/*.md): ours, the same-run baseline, the ratio,
the issue's target and the DBOS 3.4 reference side by side."""

from __future__ import annotations

import math
from typing import Any

from bench import services, services_text, targets, ui_page, workflows_e2e

# The targets (issue 6), each written once: the table shows it and the "met" cell checks the measured
# figures against it.
RESUME_PART1_P50_S = 0.1
RESUME_PART2_P50_S, RESUME_PART2_P95_S = 1.0, 2.0
PARKED_MAX_PG_CONNECTIONS = 2
PARKED_P95_MAX_RATIO_VS_N1 = 2
MEMORY_PER_N_WAITS = 1000  # "memory reported per 1,000 waits": measured with at least that many parked
# Parked durable workflows (bench/parked_workflows.py): at 1,000 parked, a resume's next task p95 within 2x of
# none parked, the idle scheduler at most 10 % of a core above its empty figure; a burst of new workflows
# never delays another workflow's next step by more than 5 s.
WORKFLOWS_PARKED_N = 1000
WORKFLOWS_P95_MAX_RATIO = 2.0
WORKFLOWS_IDLE_CPU_ABOVE_EMPTY_MAX_PCT = 10.0
BURST_MAX_DELAY_S = 5.0
REPLAY_MAX_P95_MS = 5
PARSE_MAX_BEYOND_SDK_MS = 50


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


def _number(value: Any) -> bool:
    """A measured figure: a finite int or float (not None, not a bool, not NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _at_most(value: Any, limit: float) -> bool | None:
    """value <= limit, or None (n/a) when nothing was measured."""
    return value <= limit if _number(value) else None


def memory_reported(pk: dict[str, Any]) -> bool:
    """Target "memory reported per 1,000 waits": both per-1,000 figures measured, >= 1,000 waits parked."""
    per_1000 = (pk.get("pss_mib_per_1000_waits"), pk.get("rss_mib_per_1000_waits"))
    return all(_number(v) for v in per_1000) and _number(pk.get("n")) and pk["n"] >= MEMORY_PER_N_WAITS


def replay_met(x: dict[str, Any]) -> bool | None:
    """Target "a replayed step answers in < 5 ms", read at the p95."""
    p95 = x["run_step_replay"]["latency_ms"].get("p95")
    return p95 < REPLAY_MAX_P95_MS if _number(p95) else None


def p95_ratio_met(pk: dict[str, Any]) -> bool:
    ratio = pk.get("p95_ratio_vs_n1")
    return _number(ratio) and ratio <= PARKED_P95_MAX_RATIO_VS_N1


def throughput_reported(tp: dict[str, Any]) -> bool:
    """Target "completed runs per minute, and scheduler loop time under that load": runs completed at a
    measured rate, loop times sampled, and no run failed (a failing run is not throughput)."""
    loops = tp.get("scheduler_loop_ms") or {}
    rate = tp.get("completed_runs_per_min")
    return (
        _number(rate)
        and rate > 0
        and _number(loops.get("n"))
        and loops["n"] > 0
        and _number(loops.get("p50"))
        and tp.get("failed") == 0
    )


def parse_met(ps: dict[str, Any]) -> bool | None:
    """Every DAG file under the target beyond the SDK import; None (n/a) when no file was measured."""
    if not ps.get("files"):
        return None
    target = ps.get("target_ms", PARSE_MAX_BEYOND_SDK_MS)
    return all(_number(f["beyond_sdk_ms"]) and f["beyond_sdk_ms"] < target for f in ps["files"])


def provenance_line(r: dict[str, Any]) -> str:
    """Commit (and uncommitted changes), Airflow version and CPU, or that the run did not record them."""
    code = r.get("code")
    if not code:
        return "Code, Airflow version and CPU model: not recorded (a run made before they were)."
    git = code.get("git") or {}
    if git.get("commit"):
        tree = (
            f"with {git['changed_paths']} uncommitted change(s) in the working tree"
            if git.get("dirty")
            else "clean working tree"
        )
        commit = f"commit `{git['commit'][:12]}` ({tree})"
    else:
        commit = f"commit unknown ({git.get('error', 'no git state')})"
    return (
        f"Code: {commit}; Airflow {code['airflow_version']}; CPU {r['machine'].get('cpu_model', 'unknown')}."
    )


def _part2_target() -> str:
    return f"p50 <= {RESUME_PART2_P50_S} s, p95 <= {RESUME_PART2_P95_S} s"


def _part2_met(summary: dict[str, Any]) -> bool | None:
    p50, p95 = (
        _at_most(summary.get("p50"), RESUME_PART2_P50_S),
        _at_most(summary.get("p95"), RESUME_PART2_P95_S),
    )
    return None if p50 is None or p95 is None else p50 and p95


def _parsed_name(f: dict[str, Any]) -> str:
    """The DAG id (results before it was recorded: the file name, which was the DAG id then)."""
    return str(f.get("dag_id") or f["file"].removesuffix(".py"))


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


def _point(pw: dict[str, Any], n: int) -> dict[str, Any] | None:
    return next((p for p in pw.get("curve") or [] if p["parked"] == n), None)


def workflows_p95_ratio(pw: dict[str, Any]) -> float | None:
    empty, loaded = _point(pw, 0), _point(pw, WORKFLOWS_PARKED_N)
    if not empty or not loaded:
        return None
    p95_0 = empty["resume_next_task_finished"].get("p95")
    p95_n = loaded["resume_next_task_finished"].get("p95")
    return round(p95_n / p95_0, 2) if _number(p95_0) and _number(p95_n) and p95_0 else None


def workflows_cpu_above_empty(pw: dict[str, Any]) -> float | None:
    empty, loaded = _point(pw, 0), _point(pw, WORKFLOWS_PARKED_N)
    if not empty or not loaded:
        return None
    return round(loaded["idle"]["scheduler_cpu_pct"] - empty["idle"]["scheduler_cpu_pct"], 1)


def parked_workflows_rows(pw: dict[str, Any] | None) -> list[str]:
    """Rows of the main table for the parked-workflows targets, each met cell computed from the figures."""
    if not pw:
        return []
    rows = []
    empty, loaded, before = _point(pw, 0), _point(pw, WORKFLOWS_PARKED_N), pw.get("before")
    ratio = workflows_p95_ratio(pw)
    base = f"none parked {_pp(empty['resume_next_task_finished'])}" if empty else "n/a"
    if before:
        base += f"; patch off, {before['parked']} parked: {_pp(before['resume_next_task_finished'])}"
    rows.append(
        f"| 4a | {WORKFLOWS_PARKED_N:,} parked workflows: answer/event -> next task finished | "
        f"{_pp(loaded['resume_next_task_finished']) if loaded else 'n/a'} | {base} | "
        f"{f'{ratio}x (p95)' if ratio is not None else 'n/a'} | "
        f"p95 within {WORKFLOWS_P95_MAX_RATIO}x of none parked | "
        f"{_met(_at_most(ratio, WORKFLOWS_P95_MAX_RATIO))} | |"
    )
    above = workflows_cpu_above_empty(pw)
    rows.append(
        f"| 4b | idle scheduler CPU, {WORKFLOWS_PARKED_N:,} parked | "
        f"{loaded['idle']['scheduler_cpu_pct'] if loaded else 'n/a'} % of a core (Postgres "
        f"{loaded['idle']['postgres_cpu_pct'] if loaded else 'n/a'} %) | none parked "
        f"{empty['idle']['scheduler_cpu_pct'] if empty else 'n/a'} %"
        + (f"; patch off: {before['idle']['scheduler_cpu_pct']} %" if before else "")
        + f" | {f'+{above} points' if above is not None else 'n/a'} | "
        f"<= +{WORKFLOWS_IDLE_CPU_ABOVE_EMPTY_MAX_PCT:.0f} points | "
        f"{_met(_at_most(above, WORKFLOWS_IDLE_CPU_ABOVE_EMPTY_MAX_PCT))} | |"
    )
    burst = pw.get("burst")
    if burst:
        worst = burst.get("max_resume_delay_s")
        rows.append(
            f"| 4c | burst of {burst['size']:,} new workflows: other workflows' next step | max {_s(worst)}, "
            f"{_pp(burst['resume_next_task_finished_during_burst'])} | burst reached its first waits at "
            f"{burst['first_waits_per_min']}/min ({burst['burst_tasks_per_s']} tasks/s) | | <= "
            f"{BURST_MAX_DELAY_S:.0f} s | {_met(_at_most(worst, BURST_MAX_DELAY_S))} | |"
        )
    return rows


def parked_workflows_curve(pw: dict[str, Any] | None) -> list[str]:
    if not pw:
        return []
    lines = [
        "",
        "## Parked durable workflows: the curve",
        "",
        "One scheduler examination of a parked run (Airflow's `DagRun.update_state`, what the patch skips): "
        + "; ".join(
            f"{dag_id} {c['update_state_ms']:.0f} ms ({c['unfinished_task_instances']} unfinished tasks)"
            for dag_id, c in (pw.get("examine_cost") or {}).items()
        )
        + ".",
        "",
        "| parked | answer/event -> next task finished | approvals | signatures | idle scheduler CPU | "
        "idle Postgres CPU |",
        "|---|---|---|---|---|---|",
    ]
    points = list(pw.get("curve") or []) + ([pw["before"]] if pw.get("before") else [])
    if any(p.get("copies") for p in points):
        lines[-2:-2] = [
            f"Past {pw.get('real_max'):,} real parked workflows the points are filled with copies: the "
            "metadata rows of a parked workflow as the scheduler and the triggerer see them (its run, task "
            "instances, HITL request, a trigger of its own per deferred wait), never resumed "
            "(bench/parked_workflows.py, `fill_to`).",
            "",
        ]
    for p in points:
        label = f"{p['parked']:,}" + (" (patch off)" if p["label"] == "before" else "")
        if p.get("copies"):
            label += f", {p['copies']:,} of them copies"
        lines.append(
            f"| {label} | {_pp(p['resume_next_task_finished'])} | {_pp(p['by_kind']['approval'])} | "
            f"{_pp(p['by_kind']['signature'])} | {p['idle']['scheduler_cpu_pct']} % | "
            f"{p['idle']['postgres_cpu_pct']} % |"
        )
    return lines


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
        provenance_line(r),
        *(
            [
                f"**Aborted** by an error in a later section, these are the sections measured before it: "
                f"`{r['aborted']}`",
                "",
            ]
            if r.get("aborted")
            else [""]
        ),
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
            f"| p50 <= {RESUME_PART1_P50_S} s | {_met(_at_most(p1['p50'], RESUME_PART1_P50_S))} "
            f"| message -> resumed done p50 "
            f"{dbos['message_to_resumed_done_p50_s'] * 1000:.1f} ms |"
        )
        p2, h2 = res["webhook_to_next_end"], res["hitl_to_next_end"]
        poke2 = (r.get("poke") or {}).get("webhook_to_next_end")
        base2 = f"HITL answer -> next task finished {_pp(h2)}" + (f"; poke {_pp(poke2)}" if poke2 else "")
        lines.append(
            f"| 2 | resume part 2: webhook 202 -> next task finished | {_pp(p2)} | {base2} | "
            f"{_ratio(p2['p50'], h2['p50'])} vs HITL (p50) | {_part2_target()} | "
            f"{_met(_part2_met(p2))} | "
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
            f"{_part2_target()} | {_met(_part2_met(a['webhook_to_next_end']))} | |"
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
            f"| <= {PARKED_MAX_PG_CONNECTIONS} | {_met(_at_most(waits_conns, PARKED_MAX_PG_CONNECTIONS))} | "
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
            f"| {naive_mem} | | reported, >= {MEMORY_PER_N_WAITS:,} waits parked "
            f"| {_met(memory_reported(pk))} (N={pk['n']}) "
            f"| +{dbos['parked_1000_mib']} MiB, one OS thread each |"
        )
        lines.append(
            f"| 3d | resume p95 at N={pk['n']} vs N=1 | {_pp(pk.get('webhook_to_wait_end'))} | N=1 "
            f"{_pp(n1['webhook_to_wait_end']) if n1 else 'n/a'} "
            f"| {pk.get('p95_ratio_vs_n1')}x | within {PARKED_P95_MAX_RATIO_VS_N1}x (at 10,000) | "
            f"{_met(p95_ratio_met(pk))} "
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
    lines += parked_workflows_rows(r.get("parked_workflows"))
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
                f"| replay < {REPLAY_MAX_P95_MS} ms "
                f"| {_met(replay_met(x))} (p95) | "
                f"{dbos['trivial_step_ms']} ms per trivial step |"
            )
    ps = r.get("parse")
    if ps and not ps.get("files"):
        lines.append(
            "| 5 | DAG parse beyond `import airflow.sdk` | no DAG file measured | | | < "
            f"{ps.get('target_ms', PARSE_MAX_BEYOND_SDK_MS)} ms each | {_met(parse_met(ps))} | |"
        )
    if ps and ps.get("files"):
        target_ms = ps.get("target_ms", PARSE_MAX_BEYOND_SDK_MS)
        worst = max(ps["files"], key=lambda f: f["beyond_sdk_ms"])
        over = [
            f"{f['file']} {f['beyond_sdk_ms']:.0f}" for f in ps["files"] if not f["beyond_sdk_ms"] < target_ms
        ]
        each = ", ".join(f"{_parsed_name(f)} {f['beyond_sdk_ms']:.0f}" for f in ps["files"])
        lines.append(
            f"| 5 | DAG parse beyond `import airflow.sdk` (ms, best of {ps['reps']}) | {each} | SDK alone "
            f"{ps['sdk_alone_ms'].get('best', ps['sdk_alone_ms']['median']):.0f} ms; "
            "a minimal @dag + @task file "
            f"{ps.get('floor_dag_beyond_sdk_ms', 'n/a')} ms beyond it | worst file "
            f"total {worst['ratio_total_vs_sdk_alone']}x the "
            f"SDK | < {target_ms} ms each | {_met(parse_met(ps))}"
            f"{(' (' + ', '.join(over) + ')') if over else ''} | |"
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
            f"{', '.join(f'{k} {v}' for k, v in cpu.items())} | | runs/min and loop time, no run failed "
            f"| {_met(throughput_reported(tp))} | |"
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
    lines += parked_workflows_curve(r.get("parked_workflows"))
    lines += services.markdown_lines(r.get("services"))
    lines += services_text.markdown_lines(r.get("services_retrieval"))
    lines += ui_page.markdown_lines(r.get("ui_page"))
    lines += workflows_e2e.markdown_lines(r.get("workflows_e2e"))
    lines += targets.markdown_lines(r)
    return "\n".join(lines) + "\n"
