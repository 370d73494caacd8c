"""The event source mapping model: 5 batches at first, +300 a minute while messages wait,
the MaximumConcurrency cap, scale-down when idle, batching window, batch limits."""

from __future__ import annotations

from sim_scenarios import small_scenario

from sim.esm import Slot
from sim.function import Environment
from sim.simulation import Simulation


def backlog_scenario(maximum: int) -> Simulation:
    """20,000 messages at once; each invocation takes ~50 s, so pollers pile up."""
    scenario = small_scenario(
        count=20_000,
        span=0.1,
        stack={"batch_size": 10, "maximum_concurrency": maximum, "function_timeout": 120},
        runtime={"per_record_ms": 5000.0},
        api={"rate": 1e6, "burst": 1e6},
    )
    simulation = Simulation(scenario)
    simulation.start()
    return simulation


def busy_at(simulation: Simulation, *instants: float) -> list[int]:
    seen = []
    for instant in instants:
        simulation.loop.run(instant)
        seen.append(simulation.esm.busy)
    return seen


def test_starts_with_five_and_adds_up_to_300_a_minute() -> None:
    simulation = backlog_scenario(1000)
    early, minute, two = busy_at(simulation, 0.5, 60.5, 120.5)
    assert early == 5
    assert 295 <= minute <= 305
    assert 595 <= two <= 605


def test_never_above_maximum_concurrency() -> None:
    simulation = backlog_scenario(50)
    assert busy_at(simulation, 5.5, 30.0, 90.0) == [30, 50, 50]
    assert simulation.esm.peak_busy == 50


def test_lowering_the_maximum_retires_pollers_after_their_batch() -> None:
    simulation = backlog_scenario(100)
    busy_at(simulation, 30.0)
    simulation.esm.set_maximum(10, 30.0)
    assert busy_at(simulation, 31.0)[0] > 10  # batches in progress finish (~50 s each)
    assert busy_at(simulation, 100.0) == [10]


def test_scales_back_to_five_when_the_queue_is_empty() -> None:
    scenario = small_scenario(count=5000, span=1.0, stack={"maximum_concurrency": 200})
    simulation = Simulation(scenario)
    simulation.start()
    simulation.loop.run(30.0)
    assert simulation.esm.peak_busy > 5
    simulation.loop.stopped = False
    simulation.loop.run(600.0)
    assert simulation.queue.unfinished == 0
    assert simulation.esm.active == 5


def test_batching_window_holds_partial_batches() -> None:
    # 3 messages a second, batch 10 (AWS takes no larger batch without a window): without a
    # window nearly one invocation per arrival step, with 5 s each poller holds its batch open
    # until the window closes or the batch is full
    def invocations(window: float) -> int:
        scenario = small_scenario(
            count=300,
            span=100.0,
            stack={"batch_size": 10, "maximum_batching_window_in_seconds": window},
        )
        return Simulation(scenario).run().invocations

    held, immediate = invocations(5.0), invocations(0.0)
    assert immediate >= 200
    assert held <= immediate / 3
    assert held >= 300 / 10


def test_full_batches_go_at_once_without_waiting_for_the_window() -> None:
    scenario = small_scenario(
        count=1000, span=0.1, stack={"batch_size": 100, "maximum_batching_window_in_seconds": 20}
    )
    simulation = Simulation(scenario)
    result = simulation.run()
    assert result.invocations == 10
    assert simulation.drained_at is not None
    assert simulation.drained_at < 5.0


def test_no_window_means_whatever_is_visible() -> None:
    scenario = small_scenario(count=200, span=20.0, stack={"batch_size": 10})
    result = Simulation(scenario).run()
    assert result.invocations > 20  # small batches as messages trickle in


def test_six_megabyte_payload_caps_the_batch() -> None:
    scenario = small_scenario(
        count=100,
        span=0.1,
        stack={
            "batch_size": 100,
            "maximum_batching_window_in_seconds": 1,
            "maximum_concurrency": 2,
        },
        traffic={"message_bytes": 600_000},
    )
    result = Simulation(scenario).run()
    assert result.invocations == 10


def test_a_batch_longer_than_the_timeout_times_out_and_comes_back() -> None:
    # 100 records x 100 ms = 10 s of work in a 5 s function: every invocation times out,
    # nothing is deleted, and after max_receive_count receives the messages are redriven
    scenario = small_scenario(
        count=100,
        span=0.1,
        stack={
            "batch_size": 100,
            "maximum_batching_window_in_seconds": 1,
            "function_timeout": 5.0,
            "visibility_timeout_seconds": 10.0,
            "max_receive_count": 2,
        },
        runtime={"per_record_ms": 100.0},
    )
    simulation = Simulation(scenario)
    result = simulation.run()
    assert result.timeouts == 2
    assert result.applied == 0
    assert result.redriven_valid == 100
    # back only after the whole visibility timeout each time (received at 0 s and 10 s)
    assert simulation.drained_at is not None
    assert 20.0 <= simulation.drained_at < 21.0
    # each invocation is stopped and billed at the timeout (plus the cold start)
    memory_gb = scenario.stack.memory_size / 1024
    assert result.gb_seconds <= 2 * (5.0 + scenario.runtime.cold_start_seconds) * memory_gb


def pollers_scenario(k: int, count: int, cores: int, **runtime: float) -> Simulation:
    """`count` messages at once for K pollers released together, each cycle 0.2 s of the
    poller's own work shared by `cores` (0: each poller alone), an API without a limit."""
    scenario = small_scenario(
        count=count,
        span=0.0,
        stack={"maximum_concurrency": k},
        runtime={
            "initial_concurrency": k,
            "scale_down_floor": k,
            "cycle_overhead_seconds": 0.2,
            "host_cores": cores,
            **runtime,
        },
        api={"rate": 1e6, "burst": 1e6},
    )
    return Simulation(scenario)


def invocation_starts(cores: int) -> tuple[list[float], list[float]]:
    """12 pollers on 12 full batches: (the instants the function was invoked at, its clock at
    each of them), over the first 0.65 s."""
    simulation = pollers_scenario(12, 120, cores, cold_start_seconds=0.0)
    invoked: list[float] = []
    clock: list[float] = []
    invoke = simulation.esm.invoke

    def record(slot: Slot, messages: list[int], now: float) -> None:
        invoked.append(now)
        clock.append(simulation.loop.now)
        invoke(slot, messages, now)

    simulation.esm.invoke = record
    simulation.start()
    simulation.loop.run(0.65)
    return invoked, clock


def test_the_function_is_invoked_when_the_poller_gets_there_not_at_the_receive() -> None:
    # the handler's clock (its Pacer's pause between invocations) must read the invoke instant
    invoked, clock = invocation_starts(cores=0)
    assert invoked == clock
    assert min(invoked) >= 0.1  # half the cycle after the receive


def test_pollers_alone_start_together_on_shared_cores_staggered() -> None:
    alone, _ = invocation_starts(cores=0)
    assert len(alone) == 12
    assert max(alone) - min(alone) < 0.11
    shared, _ = invocation_starts(cores=2)
    # two cores, 0.1 s of receive work each (half the cycle): two batches invoked every 0.1 s
    assert sorted(round(at, 3) for at in shared) == [
        round(0.1 * (1 + i // 2), 3) for i in range(12)
    ]


def test_on_one_core_the_pollers_work_takes_turns_receive_and_delete_alike() -> None:
    def drain(cores: int) -> float:
        result = pollers_scenario(4, 200, cores).run()
        assert result.drain_seconds is not None
        return result.drain_seconds

    # 20 batches of 0.2 s of the poller's own work each (the last delete after the drain):
    # 3.9 s on one core, ~1 s with each poller alone
    assert drain(cores=1) >= 19.5 * 0.2
    assert drain(cores=0) < 2.0


def test_cold_starts_share_the_host_cores_too() -> None:
    def drain(cores: int) -> float:
        simulation = pollers_scenario(
            4, 40, cores, cycle_overhead_seconds=0.0, cold_start_seconds=0.5
        )
        result = simulation.run()
        assert result.drain_seconds is not None
        return result.drain_seconds

    # four batches, four new environments of 0.5 s of CPU each: 2 s on one core, 0.5 s apart
    assert drain(cores=1) >= 2.0
    assert drain(cores=0) < 1.0


def test_localstack_gives_an_invocation_the_first_created_free_environment() -> None:
    def chosen(oldest_first: bool) -> int:
        scenario = small_scenario(runtime={"oldest_environment_first": oldest_first})
        function = Simulation(scenario).function
        first, second, third = Environment(), Environment(), Environment()
        function.free.extend([third, first, second])  # freed in this order
        return [first, second, third].index(function._warm())

    assert chosen(oldest_first=True) == 0  # LocalStack's AssignmentService
    assert chosen(oldest_first=False) == 1  # the one freed last
