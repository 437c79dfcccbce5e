# seqlrp: explain one-hot DNA classifiers with (pruned) Layer-wise Relevance Propagation.
# Thin entry point: configuration, schema validation, stage includes and the default target.
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

try:
    import seqlrp  # noqa: F401
except ImportError:  # snakemake from an environment without the package: use the repository's copy
    sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from seqlrp.formats.config_file import DEFAULT_CONFIG, read_yaml_file, schema_error_line, user_settings
from seqlrp.errors import SeqlrpError
from seqlrp.stages.plan import plan_run
from seqlrp.stages.profiles import refuse_placeholders

# Snakemake parses --configfile files before this file runs (a broken one ends there: `make
# check-config` names its line); the default config is parsed here, so it gets one line too
try:
    if os.path.exists(DEFAULT_CONFIG):
        read_yaml_file(DEFAULT_CONFIG)
except SeqlrpError as err:
    sys.exit(f"seqlrp: error: {err}")


configfile: DEFAULT_CONFIG


# the config files in merge order (later override earlier): the default, then --configfile ones
CONFIG_FILES = sorted(workflow.configfiles, key=lambda f: str(f) != DEFAULT_CONFIG)

try:
    validate(config, "workflow/schemas/config.schema.yaml")
except WorkflowError as err:
    # One line instead of Snakemake's dump of the whole schema: the file holding the key, its line, the problem.
    problem = err.__context__ or err  # the jsonschema ValidationError Snakemake wrapped
    sys.exit(f"seqlrp: error: {schema_error_line(problem, CONFIG_FILES)}")

# Every start-up decision (input and model route, classes, methods, tiling, window length, input
# files), made once in tested Python: seqlrp.stages.plan. The rule files read PLAN.
try:
    PLAN = plan_run(config, CONFIG_FILES, user_config=user_settings(
        workflow.config_settings.configfiles, workflow.config_settings.config))
    refuse_placeholders(workflow.resource_settings.default_resources, workflow.resource_settings.overwrite_resources)
except SeqlrpError as err:
    sys.exit(f"seqlrp: error: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/demo_data.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/attribute.smk"
include: "workflow/rules/tracks.smk"
include: "workflow/rules/seqlets.smk"
include: "workflow/rules/motifs.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/igv_session.smk"
include: "workflow/rules/browser.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
