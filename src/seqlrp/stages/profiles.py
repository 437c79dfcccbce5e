"""Checks of the Snakemake profile a run is started with (resources, not science)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .plan import PlanError

#: The prefix of the values a profile ships for the user to replace (profiles/slurm/config.yaml).
PLACEHOLDER = "REPLACE_WITH_"


def refuse_placeholders(default_resources: Mapping[str, Any] | None,
                        rule_resources: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Refuse resources still holding a profile's ``REPLACE_WITH_...`` placeholder.

    Parameters
    ----------
    default_resources : mapping of str to value, optional
        The profile's ``default-resources`` (values plain or Snakemake ``Resource`` objects).
    rule_resources : mapping of str to mapping, optional
        The profile's ``set-resources``: rule name -> resource name -> value.

    Raises
    ------
    PlanError
        Naming the first placeholder and saying where to put the cluster's own value.
    """
    found = [("default-resources", name, value) for name, value in (default_resources or {}).items()]
    found += [(f"set-resources {rule}", name, value) for rule, values in (rule_resources or {}).items()
              for name, value in (values or {}).items()]
    for where_set, name, value in found:
        text = str(getattr(value, "raw", value))
        if PLACEHOLDER in text:
            raise PlanError(f"profile: {where_set}: {name}={text} is a placeholder, and a job would be submitted with "
                            f"it: put your cluster's value in your copy of the profile (profiles/slurm/config.yaml) "
                            f"or give it on the command line (--default-resources {name}=... or "
                            f"--set-resources RULE:{name}=...)")
