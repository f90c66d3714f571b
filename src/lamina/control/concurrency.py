"""Reserved concurrency: Put/Get/DeleteFunctionConcurrency, kept with the function.

A reservation is stored on the function (it survives restarts) and mirrored into the data
plane's Admission, which enforces it on every invocation. It may not be smaller than the
function's provisioned concurrency, which it then contains.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lamina.control.functions import FunctionRegistry
from lamina.errors import InvalidParameterValueException, ValidationException
from lamina.invoke import Admission


class ConcurrencyControl:
    def __init__(self, registry: FunctionRegistry, admission: Admission) -> None:
        self.registry = registry
        self.admission = admission

    async def put(self, name_param: str, body: dict[str, Any]) -> dict[str, int]:
        name = self.registry.function_only(name_param)
        amount = body.get("ReservedConcurrentExecutions")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValidationException(
                f"1 validation error detected: Value '{amount}' at 'reservedConcurrentExecutions' "
                "failed to satisfy constraint: Member must have value greater than or equal to 0"
            )
        config = await self.registry.existing(name)
        provisioned = self.admission.provisioned(name)
        if amount < provisioned:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function is less than the function's "
                f"total provisioned concurrency [{provisioned}]."
            )
        if not self.admission.can_reserve(name, amount):
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of "
                f"[{self.admission.min_unreserved}]."
            )
        await self.registry.save_quietly(replace(config, reserved_concurrency=amount), config)
        self.admission.set_reservation(name, amount)
        return {"ReservedConcurrentExecutions": amount}

    async def get(self, name_param: str) -> dict[str, int]:
        config = await self.registry.existing(self.registry.function_only(name_param))
        if config.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": config.reserved_concurrency}

    async def delete(self, name_param: str) -> None:
        name = self.registry.function_only(name_param)
        config = await self.registry.existing(name)
        if config.reserved_concurrency is not None:
            await self.registry.save_quietly(replace(config, reserved_concurrency=None), config)
        self.admission.set_reservation(name, None)
