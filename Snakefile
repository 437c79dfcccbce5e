# seqlrp: explain one-hot DNA classifiers with (pruned) Layer-wise Relevance Propagation.
# Thin entry point: configuration, schema validation, stage includes and the default target.
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


try:
    validate(config, "workflow/schemas/config.schema.yaml")
except WorkflowError as err:
    # One line instead of Snakemake's dump of the whole schema: file, key path, problem.
    problem = err.__context__ or err  # the jsonschema ValidationError Snakemake wrapped
    where = ".".join(str(p) for p in getattr(problem, "absolute_path", [])) or "top level"
    source = ", ".join(str(f) for f in workflow.configfiles) or "config"
    sys.exit(f"seqlrp: error: {source}: {where}: {getattr(problem, 'message', problem)}")


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/attribute.smk"
include: "workflow/rules/tracks.smk"
include: "workflow/rules/seqlets.smk"
include: "workflow/rules/motifs.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
