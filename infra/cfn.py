"""Just enough of CloudFormation's intrinsic functions to apply infra/resources.py outside
CloudFormation (the local bootstrap, the LocalStack hook): parameters take their defaults,
conditions are evaluated, ``Fn::GetAtt`` reads the ARNs of what was already created."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Returned for {"Ref": "AWS::NoValue"}; dropped from the dict or list that holds it.
NO_VALUE = object()


class Unresolvable(ValueError):
    pass


class Resolver:
    def __init__(
        self,
        parameters: Mapping[str, Mapping[str, Any]],
        conditions: Mapping[str, Any],
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.values = {name: spec.get("Default") for name, spec in parameters.items()}
        self.values.update(overrides or {})
        self.conditions = conditions
        self.attributes: dict[tuple[str, str], Any] = {}

    def condition(self, name: str) -> bool:
        return bool(self._value(self.conditions[name]))

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated and AWS::NoValue removed."""
        out = self._value(value)
        return None if out is NO_VALUE else out

    def _value(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._value(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.values:
                    return self.values[arg]
                raise Unresolvable(f"Ref {arg}")
            if fn == "Fn::GetAtt":
                key = (arg[0], arg[1])
                if key not in self.attributes:
                    raise Unresolvable(f"Fn::GetAtt {arg}")
                return self.attributes[key]
            if fn == "Fn::If":
                name, yes, no = arg
                return self._value(yes if self.condition(name) else no)
            if fn == "Fn::Equals":
                left, right = (self._value(v) for v in arg)
                return str(left) == str(right)
            if fn == "Fn::Not":
                return not self._value(arg[0])
            if fn == "Condition":
                return self.condition(arg)
            if fn.startswith("Fn::"):
                raise Unresolvable(fn)
        resolved = {k: self._value(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def references(self, value: Any) -> set[str]:
        """Logical ids that ``value`` reads attributes of (what must exist first)."""
        found: set[str] = set()
        if isinstance(value, list):
            for v in value:
                found |= self.references(v)
        elif isinstance(value, dict):
            if "Fn::GetAtt" in value:
                found.add(value["Fn::GetAtt"][0])
            for v in value.values():
                found |= self.references(v)
        return found
