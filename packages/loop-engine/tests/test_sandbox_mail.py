"""The engine sees mail a sandboxed lane dropped: its observation sweeps the drop folders first."""

from __future__ import annotations

from engine_fakes import Project


def test_observation_delivers_dropped_mail_as_the_lane(project: Project) -> None:
    drop = project.paths.mailbox.parent / "mail-drop" / "box"
    drop.mkdir(parents=True)
    (drop / "20261207-050000-coord-to-coord.md").write_text(
        "---\nsubject: done with T0001\nfrom: coord\nto: coord\n---\nall green\n"
    )
    engine = project.engine()
    obs = engine.observe()
    assert [(m.sender, m.recipient, m.subject) for m in obs.mail] == [("box", "coord", "done with T0001")]
    assert not [p for p in drop.iterdir() if not p.name.startswith(".")]
