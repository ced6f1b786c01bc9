"""Bonuses: a requester's payment to a worker beyond a result's reward (Mechanical Turk's SendBonus)."""

from pydantic import Field

from crowdtask.models.accounts import PositiveAmount
from crowdtask.models.base import ApiModel, OutModel, ResourceId


class BonusIn(ApiModel):
    """POST /bonuses: whom to pay, how much, for what."""

    worker: ResourceId = Field(
        description="id of a worker who has submitted a result in one of your campaigns"
    )
    amount: PositiveAmount = Field(
        description="USD paid to the worker, to the micro-dollar; your commission rate is charged on top"
    )
    result: ResourceId | None = Field(
        default=None, description="id of one of your results, by this worker, that the bonus rewards"
    )
    reason: str = Field(min_length=1, max_length=2000, description="why: the worker sees it")


class BonusOut(OutModel):
    id: str = Field(description="id of the bonus")
    worker: str = Field(description="id of the worker paid")
    result: str | None = Field(default=None, description="id of the result the bonus rewards, if one")
    amount: str = Field(description="paid to the worker, e.g. `0.25 USD`")
    commission: str = Field(description="the platform's commission on it, e.g. `0.05 USD`")
    cost: str = Field(description="what left your available balance: amount plus commission")
    reason: str
    createdAt: str = Field(description="UTC time the bonus was paid")


class BonusPage(OutModel):
    bonuses: list[BonusOut] = Field(description="one page of the bonuses you paid, newest first")
