"""Every workaround for an Airflow 3.3.2 bug, in one place, each with its upstream report and a canary.

A canary (under ``tests/plugins/compat/``) shows the bug on plain Airflow, forcing the interleaving it
needs with Airflow's own scheduler, Execution API, REST API and triggerer code in process, and fails the
day an Airflow upgrade fixes it: then delete what its row says. Each canary file also tests that the
workaround handles the bug.

``local_executor`` -- a scheduler that lost its database can hang forever instead of exiting.
    Upstream: apache/airflow#67870 (``LocalExecutor.end()`` joins its workers without a timeout; closed
    by PR #67881, yet 3.3.2 still hangs). Fix here: ``BoundedLocalExecutor`` kills workers still alive after
    ``[execution_plane] executor_shutdown_timeout`` so the process exits and is restarted; the project's
    Airflow config names it as ``[core] executor``. Scoped to the LocalExecutor it fixes: a Celery
    deployment (``EP_EXECUTOR=celery``, docker-compose.yaml, the Helm values) sets ``[core] executor =
    CeleryExecutor``, Airflow's own, whose ``end()`` joins no worker process (it only reads the task
    states once more), and the option is then unused.
    Canary: ``test_local_executor.py``. When fixed: set ``[core] executor = LocalExecutor`` everywhere,
    delete the module and its ``[execution_plane]`` option.

``hitl_early_answer`` -- an approval answered within ~1 s of waiting is failed, and its retry erases the
    answer. Upstream: apache/airflow#71580 and #72716 (stale executor event fails a resumed task; fix PRs
    #71579 and #72767 open); PR #53824 (a retry's HITL request keeps only the latest response, by design);
    the same try run twice after a scheduler crash (project's chaos suite, no upstream report).
    Fix here: ``earlier_answer()``, called by ``ApprovalGateOperator.execute`` before it asks, completes
    with an answer given to an earlier execution (earlier tries' hitlDetails, then the event log).
    Canary: ``test_hitl_early_answer.py``. When fixed (the canary's first two tests fail): delete the
    module and its call in ``operators/approval.py``; keep it while the project still sees a crashed
    scheduler's task run twice in one try.

``trigger_start`` -- ``start_from_trigger`` in a DAG with a required param kills the triggerer.
    Upstream: apache/airflow#72758 (open fix; related #53063, #51245): rendering the task in the trigger
    runner raises ``ParamValidationError`` even when the run's conf has the param, the error escapes
    ``TriggerRunner.create_triggers`` and the runner process dies, on every restart again.
    Fix here: ``refuse_start_from_trigger_with_required_params()`` refuses such a task at DAG parse
    (``ExternalEventSensor`` calls it; ``check_dag()`` for any DAG).
    Canary: ``test_trigger_start.py``. When fixed: delete the module and its call in
    ``sensors/external_event.py``; durable DAGs may then start their waits in the triggerer.

``fail_fast`` -- a ``fail_fast`` run whose failed task is not a leaf ends SUCCESS (its leaves were skipped).
    Upstream: no report of this case found (searched 2026-12); the feature request apache/airflow#26854
    was closed by a maintainer with "the scheduler will fail the run automatically", true only when the
    failed task is a leaf; same mechanism on a run failed by hand: #57061. Not documented behaviour: the
    docs state each rule alone (run state from the leaves, success when they are all success or skipped;
    ``fail_fast`` skips the rest), never that a failed ``fail_fast`` run can end success.
    Fix here: a teardown with ``on_failure_fail_dagrun=True`` downstream of every other task that fails
    when a task of the run failed (``fail_if_a_task_failed()`` / ``failed_task_ids()``);
    ``check_outcome_teardown()`` refuses a ``fail_fast`` DAG without one at parse.
    Canary: ``test_fail_fast.py``. When fixed: delete the module; the DAGs' outcome teardowns may go.

``trigger_xcoms`` -- the XComs of a trigger's end event reach the next task as JSON text, not values.
    Upstream: apache/airflow#45231 (server-side XCom pushes keep ``serialize_value``, the Execution API
    stores the Task SDK's values as they are: one column, two encodings); the end-event case unreported.
    Fix here: a ``TaskSuccessEvent`` handler registered on Airflow's ``handle_event_submit`` stores them
    as the Execution API stores a task's own; the plugin installs it in the triggerer, the scheduler and
    the API server, ``webhooks.resume`` before it ends a wait. Canary: ``test_trigger_xcoms.py``. When fixed:
    delete the module and its calls.

``execution_api_warmup`` -- the first Execution API call after an API server starts freezes every route of
    the server for seconds (4.0-6.9 s measured) while Cadwyn builds the Execution API's versioned routers on
    the event loop. Upstream: no report found (searched 2026-12). Fix here: ``warm_up()``, awaited in the
    services app's lifespan, sends the mounted Execution API one request in process before the server
    accepts connections. Canary: ``test_execution_api_warmup.py``. When fixed: delete the module and its
    call in ``services/app.py``.

Executors: ``local_executor`` is the LocalExecutor's alone (above). The others live in the scheduler loop,
the Execution and REST APIs, the triggerer and the operators, whatever runs the tasks, and hold on both
executors: ``make test`` runs the live suite on the LocalExecutor and again on Celery (README, Running on
Celery).

Keep this package import-cheap: DAG files import parts of it at parse time, so nothing here imports a
database driver or an HTTP client at module level.
"""
