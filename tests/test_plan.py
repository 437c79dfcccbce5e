"""The run plan (seqlrp.stages.plan): every start-up decision and refusal of the pipeline, in-process.

Each refusal is one line ``file:line: problem`` naming the config file that holds the key to change;
the pipeline itself shows the same line (the dry-run matrix in test_workflow.py checks one of them
through Snakemake).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml
from conftest import random_sequence, write_fasta, write_lines
from torch import nn

from seqlrp.errors import SeqlrpError
from seqlrp.formats.config_file import load_config, user_settings
from seqlrp.models import annotate, build, save_model
from seqlrp.stages import plan as plan_module
from seqlrp.stages.plan import PlanError, plan_run
from seqlrp.stages.profiles import refuse_placeholders

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A run directory (the working directory) with a genome and two BEDs, ``bound`` and ``unbound``."""
    monkeypatch.chdir(tmp_path)
    write_fasta(tmp_path / "genome.fa", {"chr1": random_sequence(2000, 1), "chr2": random_sequence(2000, 2)})
    write_lines(tmp_path / "bound.bed", ["chr1\t100\t140"])
    write_lines(tmp_path / "unbound.bed", ["chr2\t100\t140"])
    return tmp_path


def make_plan(workdir: Path, user: dict, *, default: dict | None = None, **options):
    """Plan the run of ``user`` (written to config.yaml) over ``default`` (config/config.yaml, when given)."""
    files = []
    if default is not None:
        (workdir / "config").mkdir(exist_ok=True)
        (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(default))
        files.append("config/config.yaml")
    (workdir / "config.yaml").write_text(yaml.safe_dump(user))
    files.append(str(workdir / "config.yaml"))
    config = load_config(files)
    return plan_run(config, files, user_config=user_settings(files), cache_dir=workdir / "cache", **options)


def refusal(workdir: Path, user: dict, **kwargs) -> str:
    with pytest.raises(PlanError) as caught:
        make_plan(workdir, user, **kwargs)
    text = str(caught.value)
    assert "\n" not in text
    return text


def with_classes(model, classes):
    annotate(model, classes=list(classes))
    return model


REGIONS = {"genome": "genome.fa", "regions": {"bound": "bound.bed", "unbound": "unbound.bed"}}


class Net(nn.Module):
    """A two-output CNN for the foreign routes (module, .pt2)."""

    def __init__(self, tasks: int = 2):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)
        self.head = nn.Linear(4, tasks)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(-1))


NET_PY = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, tasks=2):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)
        self.head = nn.Linear(4, tasks)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(-1))
"""


@pytest.fixture
def module_files(data):
    """``net.py`` with class Net, and its weights ``net.pt`` (a state dict)."""
    (data / "net.py").write_text(NET_PY)
    torch.manual_seed(0)
    torch.save(Net().state_dict(), data / "net.pt")
    return data


@pytest.fixture
def pt2_file(data):
    """``net.pt2``: the Net exported for 40-bp windows (its input shape declares the length)."""
    torch.manual_seed(0)
    program = torch.export.export(Net().eval(), (torch.zeros(2, 4, 40),))
    torch.export.save(program, data / "net.pt2")
    return data / "net.pt2"


# ----------------------------------------------------------------------------------- what it decides


def test_demo_run_plans_the_demo_files_and_a_trained_model(data):
    plan = make_plan(data, {"seq_len": 100})
    assert plan.uses_demo and plan.model.route == "train" and plan.model.trained_here
    assert plan.data_classes == plan.classes == ("positive", "negative")
    assert plan.regions == {"positive": "results/demo/positive.narrowPeak", "negative": "results/demo/negative.bed"}
    assert plan.genome == "results/demo/genome.fa.gz" and plan.truth == "results/demo/truth.bed"
    assert plan.seq_len == 100 and plan.methods == ("lrp", "plrp") and plan.tile is None
    assert plan.input_files() == ["results/demo/genome.fa.gz", "results/demo/positive.narrowPeak",
                                  "results/demo/negative.bed", "results/demo/truth.bed",
                                  "results/demo/variants.vcf.gz", "results/demo/variants_truth.tsv"]
    # the demo scores its own generated VCF unless told not to
    assert plan.variants == "results/demo/variants.vcf.gz"
    assert make_plan(data, {"seq_len": 100, "demo": {"variants": False}}).variants is None


def test_region_run_plans_classes_in_config_order_and_lists_the_input_files(data):
    plan = make_plan(data, {**REGIONS, "seq_len": 40, "evaluate": {"truth": "bound.bed"}})
    assert plan.data_classes == plan.classes == ("bound", "unbound")
    assert not plan.uses_demo and plan.truth == "bound.bed"
    assert plan.input_files() == ["genome.fa", "bound.bed", "unbound.bed"]


def test_plan_is_frozen(data):
    plan = make_plan(data, {"seq_len": 100})
    with pytest.raises(AttributeError):
        plan.seq_len = 3


def test_tracks_hash_ignores_later_stages_but_not_the_window_length(data):
    base = make_plan(data, {"seq_len": 100})
    assert make_plan(data, {"seq_len": 100, "seqlets": {"n_null": 7}, "gpu": 1}).config_sha256 == base.config_sha256
    # the variant stage's settings, and whether the demo scores a VCF, shape no track
    assert make_plan(data, {"seq_len": 100, "demo": {"variants": False}, "variant_effects": {"null_size": 5}}
                     ).config_sha256 == base.config_sha256
    assert make_plan(data, {"seq_len": 100, "demo": {"gc": 0.5}}).config_sha256 != base.config_sha256
    assert make_plan(data, {"seq_len": 120}).config_sha256 != base.config_sha256


# ----------------------------------------------------------------------------------- input route


@pytest.mark.parametrize("user,pattern", [
    ({"genome": "genome.fa"}, r"'genome' and 'regions' go together"),
    ({"regions": {"a": "bound.bed", "b": "unbound.bed"}}, r"'genome' and 'regions' go together"),
    ({"sequences": {"a": "a.fa"}, **REGIONS}, r"give either 'sequences' or 'genome' \+ 'regions', not both"),
    ({"tile": {}, **REGIONS}, r"give either 'tile' .* or 'regions' or 'sequences'"),
    ({"tile": {}}, r"'tile' cuts the chromosomes of 'genome'"),
    ({"tile": {}, "genome": "genome.fa"}, r"'tile' needs model\.checkpoint"),
])
def test_input_route_mixtures_are_refused(data, user, pattern):
    assert re.search(r"config\.yaml:\d+: " + pattern, refusal(data, user))


@pytest.mark.parametrize("key,value,pattern", [
    ("genome", "absent.fa", r"absent\.fa: no such file \(relative paths are read from the run directory "),
    ("regions", {"bound": "bound.bed", "unbound": "gone.bed"}, r"gone\.bed: no such file"),
    ("evaluate", {"truth": "truth.bed"}, r"truth\.bed: no such file"),
    ("motifs", {"truth": "sites.bed"}, r"sites\.bed: no such file"),
])
def test_missing_input_files_are_refused_with_the_key_line(data, key, value, pattern):
    text = refusal(data, {**REGIONS, "seq_len": 40, key: value})
    line = next(i for i, row in enumerate((data / "config.yaml").read_text().splitlines(), 1)
                if row.startswith(f"{key}:") or row.startswith(f"  {'unbound' if key == 'regions' else ''}"))
    assert re.search(pattern, text) and text.startswith(f"{data / 'config.yaml'}:"), text
    assert int(text.split(":")[1]) >= line


def test_variants_plan_the_vcf_and_its_labels(data):
    write_lines(data / "calls.vcf", ["##fileformat=VCFv4.2"])
    write_lines(data / "labels.tsv", ["chrom\tpos\tref\talt\tlabel\tclass"])
    plan = make_plan(data, {**REGIONS, "seq_len": 40, "variants": "calls.vcf",
                            "evaluate": {"variant_truth": "labels.tsv"}})
    assert plan.variants == "calls.vcf" and plan.variant_truth == "labels.tsv"
    assert plan.input_files()[-2:] == ["calls.vcf", "labels.tsv"]
    assert make_plan(data, {**REGIONS, "seq_len": 40}).variants is None


@pytest.mark.parametrize("user,pattern", [
    ({"variants": "absent.vcf.gz"}, r"config\.yaml:\d+: absent\.vcf\.gz: no such file"),
    ({"evaluate": {"variant_truth": "labels.tsv"}}, r"config\.yaml:\d+: labelled variants without `variants`"),
])
def test_variant_input_problems_are_refused(data, user, pattern):
    write_lines(data / "labels.tsv", ["chrom\tpos\tref\talt\tlabel\tclass"])
    assert re.search(pattern, refusal(data, {**REGIONS, "seq_len": 40, **user}))


def test_genome_and_variants_with_a_model_run_the_variant_stage_alone(data):
    write_lines(data / "calls.vcf", ["##fileformat=VCFv4.2"])
    model = build("cnn", seq_len=60, n_classes=2)
    annotate(model, classes=["open", "closed"])
    save_model(model, data / "model.pt")
    plan = make_plan(data, {"genome": "genome.fa", "variants": "calls.vcf", "model": {"checkpoint": "model.pt"}})
    assert plan.route == "variants" and plan.classes == plan.data_classes == ("open", "closed")
    assert plan.seq_len == 60 and plan.variants == "calls.vcf" and not plan.regions
    text = refusal(data, {"genome": "genome.fa", "variants": "calls.vcf"})
    assert re.search(r"config\.yaml:\d+: 'genome' \+ 'variants' without 'regions' score the variants with a model "
                     r"you give: set model\.checkpoint", text), text
    assert "differs from the seq_len 60" in refusal(data, {"genome": "genome.fa", "variants": "calls.vcf", "seq_len": 80,
                                                           "model": {"checkpoint": "model.pt"}})
    assert re.search(r"config\.yaml:\d+: variant_effects\.motifs: patterns scans the motifs stage's", refusal(
        data, {"genome": "genome.fa", "variants": "calls.vcf", "model": {"checkpoint": "model.pt"},
               "variant_effects": {"motifs": "patterns"}}))


def test_variants_need_a_genome(data):
    write_lines(data / "calls.vcf", ["##fileformat=VCFv4.2"])
    write_fasta(data / "bound.fa", {"chr1:0-40": random_sequence(40, 3)})
    write_fasta(data / "unbound.fa", {"chr2:0-40": random_sequence(40, 4)})
    text = refusal(data, {"sequences": {"bound": "bound.fa", "unbound": "unbound.fa"}, "seq_len": 40,
                          "variants": "calls.vcf"})
    assert re.search(r"config\.yaml:\d+: variant effects need a genome FASTA", text), text


def test_a_directory_for_a_file_is_refused(data):
    (data / "adir").mkdir()
    assert "adir: is a directory, expected a file" in refusal(data, {**REGIONS, "genome": "adir", "seq_len": 40})


def test_input_files_can_be_left_unchecked(data):
    plan = make_plan(data, {**REGIONS, "genome": "later.fa", "seq_len": 40}, check_files=False)
    assert plan.genome == "later.fa"


# ----------------------------------------------------------------------------------- names


@pytest.mark.parametrize("names,pattern", [
    (["../up", "b"], r"class name '\.\./up' contains a path separator"),
    (["", "b"], r"class name '' is empty"),
    ([".hidden", "b"], r"class name '\.hidden' starts with a dot"),
    (["Pos", "pos"], r"class names '(Pos|pos)' and '(Pos|pos)' differ only by case"),
])
def test_unsafe_class_names(data, names, pattern):
    user = {"genome": "genome.fa", "regions": dict(zip(names, ["bound.bed", "unbound.bed"])), "seq_len": 40}
    assert re.search(r"config\.yaml:\d+: " + pattern, refusal(data, user))


def test_method_names_differing_by_case_are_refused(data):
    user = {"seq_len": 100, "attribute": {"methods": {"lrp": {"composite": "epsilon"}, "LRP": {"composite": "epsilon"}}}}
    assert re.search(r"config\.yaml:\d+: method names '(lrp|LRP)' and '(lrp|LRP)' differ only by case", refusal(data, user))


def test_a_classifier_needs_two_classes(data):
    user = {"genome": "genome.fa", "regions": {"bound": "bound.bed"}, "seq_len": 40}
    assert re.search(r"config\.yaml:\d+: a classifier needs at least two classes, got 1 \('bound'\)",
                     refusal(data, user))


@pytest.mark.parametrize("hparams,seq_len,pattern", [
    ({"filterz": [8]}, 100, r"model\.hparams: unknown key\(s\) filterz for arch 'cnn'"),
    ({"pools": [50, 50]}, 60, r"model \(cnn\): seq_len 60 is too short"),
])
def test_architecture_must_fit(data, hparams, seq_len, pattern):
    assert re.search(r"config\.yaml:\d+: " + pattern, refusal(data, {"seq_len": seq_len, "model": {"hparams": hparams}}))


# ----------------------------------------------------------------------------------- model route


@pytest.mark.parametrize("model,pattern", [
    ({"module": "net.py:Net", "checkpoint": "x.pt2", "classes": ["a"]}, r"give either model\.checkpoint .* not both"),
    ({"weights": "net.pt"}, r"model\.weights belongs to model\.module"),
    ({"kwargs": {"tasks": 2}}, r"model\.kwargs belongs to model\.module"),
    ({"untrained": True}, r"model\.untrained belongs to model\.module"),
    ({"classes": ["a", "b"]}, r"model\.classes is for a model from outside seqlrp"),
    ({"seq_len": 40}, r"model\.seq_len is for a model from outside seqlrp"),
    ({"checkpoint": "absent.pt2", "classes": ["a"]}, r"absent\.pt2: no such model file"),
    ({"module": "net.py:Net", "weights": "net.pt", "classes": {"../up": 0}},
     r"class name '\.\./up' contains a path separator"),
])
def test_model_section_problems(data, model, pattern):
    assert re.search(r"config\.yaml:\d+: " + pattern, refusal(data, {"seq_len": 40, "model": model}))


def test_module_without_weights_is_refused_unless_untrained_is_asked_for(module_files):
    model = {"module": "net.py:Net", "classes": ["bound", "unbound"]}
    text = refusal(module_files, {**REGIONS, "seq_len": 40, "model": model})
    assert re.search(r"config\.yaml:\d+: model\.module net\.py:Net has no model\.weights: .*randomly initialised"
                     r".*model\.untrained: true", text), text
    plan = make_plan(module_files, {**REGIONS, "seq_len": 40, "model": {**model, "untrained": True}})
    assert plan.model.route == "module" and plan.classes == ("bound", "unbound")
    both = {**model, "untrained": True, "weights": "net.pt"}
    assert "drop one of them" in refusal(module_files, {**REGIONS, "seq_len": 40, "model": both})


def test_module_route_with_weights_plans_the_model_files(module_files):
    model = {"module": "net.py:Net", "weights": "net.pt", "classes": ["bound", "unbound"]}
    plan = make_plan(module_files, {**REGIONS, "seq_len": 40, "model": model})
    assert plan.model.foreign == "module" and plan.model.inputs == {"code": "net.py", "weights": "net.pt"}
    assert plan.seq_len == 40 and plan.input_files()[-2:] == ["net.py", "net.pt"]


def test_missing_weights_file_names_the_weights_key(module_files):
    model = {"module": "net.py:Net", "weights": "gone.pt", "classes": ["bound", "unbound"]}
    text = refusal(module_files, {**REGIONS, "seq_len": 40, "model": model})
    line = (module_files / "config.yaml").read_text().splitlines()
    assert re.search(r"config\.yaml:(\d+): gone\.pt: no such file", text)
    assert "weights" in line[int(re.search(r"config\.yaml:(\d+)", text).group(1)) - 1]


def test_foreign_model_needs_classes(pt2_file, data):
    text = refusal(data, {**REGIONS, "seq_len": 40, "model": {"checkpoint": "net.pt2"}})
    assert re.search(r"config\.yaml:\d+: a model from outside seqlrp \(pt2\) needs model\.classes", text)


def test_foreign_class_count_must_fit_the_outputs(pt2_file, data):
    text = refusal(data, {**REGIONS, "seq_len": 40, "model": {"checkpoint": "net.pt2", "classes": ["a", "b", "c"]}})
    assert re.search(r"config\.yaml:\d+: model\.classes lists 3 names but the explained output has 2 tasks", text)


def test_refused_model_files_end_at_start_up(data):
    torch.save(Net().state_dict(), data / "weights.pt")
    text = refusal(data, {"seq_len": 40, "model": {"checkpoint": "weights.pt"}})
    assert re.search(r"config\.yaml:\d+: weights\.pt: not a seqlrp model checkpoint: a bare state dict", text)


# ----------------------------------------------------------------------------------- window length


def test_module_without_any_length_is_refused_and_the_default_200_does_not_count(module_files):
    model = {"module": "net.py:Net", "weights": "net.pt", "classes": ["bound", "unbound"]}
    # the tracked default config sets seq_len: 200; the user's file sets none
    text = refusal(module_files, {**REGIONS, "model": model}, default={"seq_len": 200})
    assert re.search(r"does not say its input length: set model\.seq_len \(or seq_len in your config file; the "
                     r"demo's default window length does not count\)", text), text
    plan = make_plan(module_files, {**REGIONS, "model": {**model, "seq_len": 60}}, default={"seq_len": 200})
    assert plan.seq_len == 60


def test_a_length_the_model_file_declares_becomes_the_window_length(pt2_file, data):
    model = {"checkpoint": "net.pt2", "classes": ["bound", "unbound"]}
    plan = make_plan(data, {**REGIONS, "model": model}, default={"seq_len": 200})
    assert plan.seq_len == 40 and plan.model.seq_len == 40 and plan.model.route == "pt2"
    text = refusal(data, {**REGIONS, "seq_len": 50, "model": model})
    assert re.search(r"config\.yaml:\d+: the model takes 40-bp windows .* set seq_len: 40", text)


def test_seqlrp_checkpoint_gives_its_length_or_refuses_another(data):
    model = build("cnn", seq_len=40, n_classes=2, filters=[4], kernels=[5], pools=[2], dense=[])
    save_model(with_classes(model, ["bound", "unbound"]), data / "model.pt")
    plan = make_plan(data, {**REGIONS, "model": {"checkpoint": "model.pt"}}, default={"seq_len": 200})
    assert plan.model.route == "seqlrp" and plan.seq_len == 40 and plan.classes == ("bound", "unbound")
    text = refusal(data, {**REGIONS, "seq_len": 50, "model": {"checkpoint": "model.pt"}})
    assert re.search(r"config\.yaml:\d+: seq_len 50 differs from the seq_len 40 of model\.checkpoint model\.pt: "
                     r"set seq_len: 40", text), text


# ----------------------------------------------------------------------------------- foreign classes


def test_classes_matching_no_region_set_are_refused_with_a_case_hint(pt2_file, data):
    model = {"checkpoint": "net.pt2", "classes": ["Bound", "unbound"]}
    text = refusal(data, {**REGIONS, "model": model})
    assert re.search(r"config\.yaml:\d+: model class 'Bound' names no region set, but set 'bound' differs from it "
                     r"only by case", text), text
    text = refusal(data, {**REGIONS, "model": {"checkpoint": "net.pt2", "classes": ["CTCF", "unbound"]}})
    assert re.search(r"model class 'CTCF' names no region set \(sets: 'bound', 'unbound'\).*"
                     r"model\.unmatched_classes: every-window", text), text


def test_unmatched_classes_explain_every_window_when_asked(pt2_file, data):
    model = {"checkpoint": "net.pt2", "classes": ["CTCF", "unbound"], "unmatched_classes": "every-window"}
    plan = make_plan(data, {**REGIONS, "model": model})
    assert plan.unmatched_classes == ("CTCF",) and plan.classes == ("CTCF", "unbound")
    # a near-miss stays refused: it is a typo, not a request
    near = {**model, "classes": ["Unbound", "bound"]}
    assert "differs from it only by case or spaces" in refusal(data, {**REGIONS, "model": near})


# ----------------------------------------------------------------------------------- foreign check cache


def test_foreign_check_runs_once_per_model_file(pt2_file, data, monkeypatch):
    import seqlrp.models.external as external

    calls = []
    real = external.open_foreign
    monkeypatch.setattr(external, "open_foreign", lambda *a, **k: calls.append(1) or real(*a, **k))
    user = {**REGIONS, "model": {"checkpoint": "net.pt2", "classes": ["bound", "unbound"]}}
    first = make_plan(data, user)
    second = make_plan(data, user)
    assert len(calls) == 1 and first == second
    assert len(list((data / "cache").glob("*.json"))) == 1
    # another file under the same name is checked again
    torch.manual_seed(1)
    torch.export.save(torch.export.export(Net(3).eval(), (torch.zeros(2, 4, 40),)), pt2_file)
    text = refusal(data, user)
    assert len(calls) == 2 and "model.classes lists 2 names but the explained output has 3 tasks" in text


# ----------------------------------------------------------------------------------- tiling


def test_tiling_takes_size_and_classes_from_the_checkpoint(data):
    model = build("cnn", seq_len=40, n_classes=2, filters=[4], kernels=[5], pools=[2], dense=[])
    save_model(with_classes(model, ["open", "closed"]), data / "model.pt")
    plan = make_plan(data, {"genome": "genome.fa", "tile": {}, "model": {"checkpoint": "model.pt"}})
    assert plan.tile["size"] == plan.tile["stride"] == plan.seq_len == 40
    assert plan.data_classes == plan.classes == ("open", "closed")
    text = refusal(data, {"genome": "genome.fa", "tile": {"size": 50}, "model": {"checkpoint": "model.pt"}})
    assert re.search(r"config\.yaml:\d+: tile\.size 50 differs from the seq_len 40 of model\.checkpoint model\.pt", text)
    text = refusal(data, {"genome": "genome.fa", "tile": {"stride": 41}, "model": {"checkpoint": "model.pt"}})
    assert re.search(r"config\.yaml:\d+: tile\.stride 41 exceeds tile\.size 40", text)


def test_tiling_refuses_unsafe_class_names_in_the_checkpoint(data):
    model = build("cnn", seq_len=40, n_classes=2, filters=[4], kernels=[5], pools=[2], dense=[])
    save_model(with_classes(model, ["a/b", "c"]), data / "model.pt")
    text = refusal(data, {"genome": "genome.fa", "tile": {}, "model": {"checkpoint": "model.pt"}})
    assert text.startswith("model.pt: class name 'a/b' contains a path separator")


# ----------------------------------------------------------------------------------- config files


def test_schema_problems_name_the_file_and_line(data):
    (data / "config.yaml").write_text("seq_len: 40\nextract:\n  padding: N\n")
    with pytest.raises(SeqlrpError, match=r"config\.yaml:3: extract: Additional properties are not allowed"):
        load_config([data / "config.yaml"])


def test_tracked_default_config_and_schema_agree_on_a_plan():
    config = load_config([REPO / "config" / "config.yaml"])
    plan = plan_run(config, [str(REPO / "config" / "config.yaml")], check_files=False, cache_dir=None)
    assert plan.uses_demo and plan.seq_len == config["seq_len"]


def test_check_config_command_plans_the_files(data, capsys):
    (data / "config.yaml").write_text(yaml.safe_dump({**REGIONS, "seq_len": 40}))
    assert plan_module.main([str(data / "config.yaml")]) == 0
    assert "OK: 2 region set(s), 40-bp windows, a model trained here; classes bound, unbound" in capsys.readouterr().out
    (data / "config.yaml").write_text(yaml.safe_dump({**REGIONS, "genome": "gone.fa", "seq_len": 40}))
    assert plan_module.main([str(data / "config.yaml")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"seqlrp: error: .*config\.yaml:\d+: gone\.fa: no such file", err[0])


@pytest.mark.parametrize("text,pattern", [
    ("seq_len: 40\nregions:\n  'bound ': bound.bed\n  unbound: unbound.bed\ngenome: genome.fa\n",
     r"class name 'bound ' starts or ends with white space"),
    ("genome: genome.fa\n", r"'genome' and 'regions' go together"),
])
def test_check_config_catches_what_the_dry_run_refuses(data, capsys, text, pattern):
    (data / "config.yaml").write_text(text)
    assert plan_module.main([str(data / "config.yaml")]) == 1
    assert re.search(pattern, capsys.readouterr().err)


# ----------------------------------------------------------------------------------- SLURM placeholders


def test_the_shipped_slurm_profile_is_refused_until_its_placeholders_are_replaced():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    with pytest.raises(PlanError, match=r"profile: default-resources: slurm_account=REPLACE_WITH_ACCOUNT is a "
                                        r"placeholder.*--default-resources slurm_account=\.\.\."):
        refuse_placeholders(profile["default-resources"], profile["set-resources"])
    defaults = {**profile["default-resources"], "slurm_account": "lab", "slurm_partition": "cpu"}
    with pytest.raises(PlanError, match=r"set-resources train: slurm_partition=REPLACE_WITH_GPU_PARTITION"):
        refuse_placeholders(defaults, profile["set-resources"])
    rules = {rule: {**values, "slurm_partition": "gpu"} for rule, values in profile["set-resources"].items()}
    refuse_placeholders(defaults, rules)
