"""The governance room: under `engine.harness_policy`, one roster snapshot per cycle for the prompt and
the gate (loop_engine.policy), the lanes' idle-cycle counts, and the retire proposals a human approves.

The all-default policy is a no-op: `observe` returns no view and makes no roster call.
"""

from __future__ import annotations

from loop_engine import outage
from loop_engine import policy as policy_mod
from loop_engine.config import EffectiveConfig, lane_config_path
from loop_engine.events import EventLog
from loop_engine.observe import Observation, SubstrateLike
from loop_engine.paths import EnginePaths
from loop_engine.store import updating

Candidate = tuple[str, str, int]  # (lane, role, idle cycles)


class Governance:
    def __init__(
        self, paths: EnginePaths, substrate: SubstrateLike, config: EffectiveConfig, events: EventLog
    ) -> None:
        self.paths = paths
        self.substrate = substrate
        self.config = config
        self.events = events

    def observe(self, obs: Observation) -> tuple[policy_mod.PolicyView | None, list[Candidate]]:
        """This cycle's policy view (ONE roster call) and the worker lanes to propose retiring."""
        pol = self.config.model.harness_policy
        if not pol.active:
            return None, []
        roster = getattr(self.substrate, "roster", None)
        view = policy_mod.build_view(
            pol,
            roster if callable(roster) else None,
            obs.lanes.values(),
            policy_mod.lane_config_lanes(lane_config_path(self.paths.project_root)),
        )
        if view.roster_error:
            self.events.emit("roster-unavailable", error=view.roster_error)
        if not policy_mod.tracks_idle(pol):
            return view, []
        with updating(self.paths.engine_dir / "lane-idle.json", {}) as idle:
            return view, policy_mod.retire_candidates(view, idle)

    def propose_retire(self, cycle_id: str, candidates: list[Candidate]) -> str | None:
        """Queue the first candidate's drop_lane as a pending decision for a human; its id, or None."""
        for lane, role, cycles in candidates:
            rule = self.config.model.harness_policy.role_rules[role]
            decision_id = outage.queue_proposal(
                self.paths,
                self.events,
                cycle_id=cycle_id,
                critique=f"engine proposal: retire idle worker lane {lane}",
                action={
                    "kind": "drop_lane",
                    "window": lane,
                    "rationale": f"worker lane {lane} (role {role}) has been idle for {cycles} cycles "
                    f"(retire_after_idle_cycles {rule.retire_after_idle_cycles})",
                },
                reasons=["destructive: a retire proposal (retire_after_idle_cycles): a human approves it"],
            )
            if decision_id is None:
                return None
            with updating(self.paths.engine_dir / "lane-idle.json", {}) as idle:
                idle.setdefault(lane, {})["proposed"] = True
            return decision_id
        return None
