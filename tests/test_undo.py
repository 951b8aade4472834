"""`pcbatch run undo.csv` puts every changed field back, including fields that were empty."""

from support import invoke


def without_attributes(profile):
    return {k: v for k, v in profile.items() if k not in ("attributes", "links")}


def test_undo_csv_restores_every_profile_exactly_as_it_was(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=4, seed=3)
    ids = sim.store.ids()
    for cid in ids:  # start from profiles without an address line 2 or 3
        sim.store.put_direct(cid, {"defaultAddress": {"addressLine2": None, "addressLine3": None}})
    before = {cid: without_attributes(sim.store.profile(cid)) for cid in ids}
    sheet = tmp_path / "in.csv"
    lines = ["Customer ID,Street,Address Line 2,City,Email"]
    lines += [
        f"{cid},{i} Changed Ave,Floor {i},Othertown,new{i}@example.com" for i, cid in enumerate(ids)
    ]
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")

    forward = invoke(["run", str(sheet), "--out", str(tmp_path / "forward"), "--rate", "500"], sim)
    assert forward.exit_code == 0, forward.output
    assert sim.store.profile(ids[1])["defaultAddress"]["addressLine2"] == "Floor 1"

    undo = tmp_path / "forward" / "undo.csv"
    back = invoke(["run", str(undo), "--out", str(tmp_path / "back"), "--rate", "500"], sim)

    assert back.exit_code == 0, back.output
    assert {cid: without_attributes(sim.store.profile(cid)) for cid in ids} == before
