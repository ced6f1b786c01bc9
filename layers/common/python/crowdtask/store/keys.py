"""Every DynamoDB key of the single table, built in one place.

Layout (pk / sk):
  ACCOUNT#<id>            / ACCOUNT         the account, its profile and balance
  EMAIL#<email>           / EMAIL           unique e-mail -> account id
  TOKEN#<sha256>          / TOKEN           an access token (hash only), expiring
  LOGIN#<email>           / LOGIN           failed-login counter and lock
  LOGINSRC#<source>       / <window>        failed logins from one source address in a window
  A#<account>#<KIND>#<nn> / <id>            a resource of an account, spread over nn shards
Sweep index (by_due): due_pk DUE#<kind>#<nn>, due_sk <iso time>#<pk>.
"""

from __future__ import annotations

import zlib

ACCOUNT_SK = "ACCOUNT"


def account(account_id: str) -> tuple[str, str]:
    return f"ACCOUNT#{account_id}", ACCOUNT_SK


def email(address: str) -> tuple[str, str]:
    return f"EMAIL#{address.lower()}", "EMAIL"


def token(token_hash: str) -> tuple[str, str]:
    return f"TOKEN#{token_hash}", "TOKEN"


def login_guard(address: str) -> tuple[str, str]:
    return f"LOGIN#{address.lower()}", "LOGIN"


def login_source(source: str, window: str) -> tuple[str, str]:
    return f"LOGINSRC#{source}", window


def shard_of(item_id: str, shards: int) -> int:
    """Stable shard of an id; crc32 spreads sequential (time-sortable) ids evenly."""
    return zlib.crc32(item_id.encode()) % shards if shards > 1 else 0


def collection_pk(account_id: str, kind: str, shard: int) -> str:
    return f"A#{account_id}#{kind}#{shard:02d}"


def due(kind: str, moment_iso: str, pk: str, shards: int = 4) -> tuple[str, str]:
    """Sweep-index key: which partition a due item sits in and where it sorts."""
    return f"DUE#{kind}#{shard_of(pk, shards):02d}", f"{moment_iso}#{pk}"


def due_partitions(kind: str, shards: int = 4) -> list[str]:
    return [f"DUE#{kind}#{n:02d}" for n in range(shards)]


def campaign_due_marker(account_id: str, campaign_id: str, kind: str) -> tuple[str, str]:
    """A scheduled step of one campaign (start, end, locks); its key alone says whose and what."""
    return f"DUE#CAMPAIGN#{account_id}#{campaign_id}", kind


def parse_campaign_due_marker(pk: str, sk: str) -> tuple[str, str, str]:
    """(account id, campaign id, kind) back from a campaign_due_marker key."""
    _, _, account_id, campaign_id = pk.split("#", 3)
    return account_id, campaign_id, sk


# ---------------------------------------------------------------- throughput (workstreams)
# WS#<id>                     / WORKSTREAM     a workstream: owner, use cases, task definitions, key hash
# WS#<id>#REC#<digest>        / RECORD         one throughput record (digest of its dedup identity)
# WS#<id>#AGG#<dim>#<nn>      / <day>[#<value>] running totals per UTC day and dimension, sharded
# WS#<id>#UPLOAD#<upload>     / UPLOAD         a CSV upload and its counts
# WS#<id>#UPLOAD#<upload>     / CHUNK#<nnnnn>  one processed chunk of it (redelivery guard, row errors)
WORKSTREAM_SK = "WORKSTREAM"
THROUGHPUT_AGGREGATE_SHARDS = 4


def workstream(workstream_id: str) -> tuple[str, str]:
    return f"WS#{workstream_id}", WORKSTREAM_SK


def throughput_record(workstream_id: str, identity_digest: str) -> tuple[str, str]:
    return f"WS#{workstream_id}#REC#{identity_digest}", "RECORD"


def throughput_aggregate_partition(workstream_id: str, dimension: str, shard: int) -> str:
    return f"WS#{workstream_id}#AGG#{dimension}#{shard:02d}"


def throughput_aggregate(
    workstream_id: str, dimension: str, shard: int, day: str, value: str | None
) -> tuple[str, str]:
    """Totals of one day (and one worker / use case / task definition) in one shard."""
    sort_key = day if value is None else f"{day}#{value}"
    return throughput_aggregate_partition(workstream_id, dimension, shard), sort_key


def throughput_aggregate_partitions(workstream_id: str, dimension: str) -> list[str]:
    shards = range(THROUGHPUT_AGGREGATE_SHARDS)
    return [throughput_aggregate_partition(workstream_id, dimension, n) for n in shards]


def throughput_upload(workstream_id: str, upload_id: str) -> tuple[str, str]:
    return f"WS#{workstream_id}#UPLOAD#{upload_id}", "UPLOAD"


def throughput_upload_chunk(workstream_id: str, upload_id: str, chunk: int) -> tuple[str, str]:
    return f"WS#{workstream_id}#UPLOAD#{upload_id}", f"CHUNK#{chunk:05d}"


# ---------------------------------------------------------------- datasets
# A#<account>#DATASET#00                 / <dataset>   a dataset (sharded collection of the account)
# A#<account>#DSTASK#<dataset>#<nn>      / <task>      its labelling tasks, spread over shards
# gsi1: DSASSIGNEE#<account>#<email>     / <dataset>#<task>   tasks of one assignee
# by_due: DUE#dstask#<account>#<nn>      / <due>#<task>       tasks with a due date, not yet done
DATASET_TASK_SHARDS = 16
DATASET_DUE_SHARDS = 4


def dataset_task(account_id: str, dataset_id: str, task_id: str) -> tuple[str, str]:
    shard = shard_of(task_id, DATASET_TASK_SHARDS)
    return f"A#{account_id}#DSTASK#{dataset_id}#{shard:02d}", task_id


def dataset_task_partitions(account_id: str, dataset_id: str) -> list[str]:
    return [f"A#{account_id}#DSTASK#{dataset_id}#{n:02d}" for n in range(DATASET_TASK_SHARDS)]


def dataset_task_assignee_partition(account_id: str, email: str) -> str:
    return f"DSASSIGNEE#{account_id}#{email.lower()}"


def dataset_task_assignee(account_id: str, email: str, dataset_id: str, task_id: str) -> tuple[str, str]:
    """gsi1 key of a task with an assignee: one partition per assignee of the account."""
    return dataset_task_assignee_partition(account_id, email), f"{dataset_id}#{task_id}"


def dataset_task_due(account_id: str, due_iso: str, task_id: str) -> tuple[str, str]:
    """by_due key of a task that is due and not done yet."""
    shard = shard_of(task_id, DATASET_DUE_SHARDS)
    return f"DUE#dstask#{account_id}#{shard:02d}", f"{due_iso}#{task_id}"


def dataset_task_due_partitions(account_id: str) -> list[str]:
    return [f"DUE#dstask#{account_id}#{n:02d}" for n in range(DATASET_DUE_SHARDS)]


# ---------------------------------------------------------------- market, assignments, results
# MARKETJOB#<job>                        / <campaign>     a job on the market for one campaign: open slots
#   gsi1: MARKET#<nn> | GEO#<geohash>    / <published>#<campaign>#<job>   listing (only while slots are open)
#   by_due: DUE#market-ttl#<nn>                                            task_ttl expiry
# WORKERJOB#<worker>                     / <campaign>#<job>   how often the worker took the job
# A#<worker>#ASSIGNMENT#00               / <assignment>   the worker's assignments (a collection)
#   by_due: DUE#assignment#<nn>                                            upload deadline
# A#<requester>#RESULT#<nn>              / <result>       results of the requester's campaigns
#   gsi1: CRESULTS#<campaign>#<nn>       / <result>       results of a campaign (ids sort by submission)
#   gsi2: CWRESULTS#<campaign>#<worker>  / <result>       results of one worker in a campaign
#   by_due: DUE#review#<nn>                                               auto-approval at review end
# CW#<campaign>                          / <worker>       a worker's result counts in a campaign
# RW#<requester>#<worker>                / STATS          a worker's reviews by one requester ("me")
# REPEAT#<campaign>#<job>                / <result> | CALENDAR   a scheduled re-opening (by_due: repeat)
# PLATFORM#REVENUE#<nn>                  / REVENUE        commission earned, sharded (sum the shards)
MARKET_SHARDS = 8
REVENUE_SHARDS = 16
RESULT_LIST_SHARDS = 4
BUSY_DUE_SHARDS = 8  # review and assignment due partitions take a write per submit and per review


def market_job(job_id: str, campaign_id: str) -> tuple[str, str]:
    return f"MARKETJOB#{job_id}", campaign_id


def market_job_partition(job_id: str) -> str:
    return f"MARKETJOB#{job_id}"


def market_listing(
    campaign_id: str, job_id: str, published_precise: str, cell: str | None
) -> tuple[str, str]:
    """gsi1 key of an open market item: a geohash cell for regions, otherwise one of the market shards."""
    partition = f"GEO#{cell}" if cell else f"MARKET#{shard_of(campaign_id + job_id, MARKET_SHARDS):02d}"
    return partition, f"{published_precise}#{campaign_id}#{job_id}"


def market_partitions() -> list[str]:
    return [f"MARKET#{n:02d}" for n in range(MARKET_SHARDS)]


def geo_partition(cell: str) -> str:
    return f"GEO#{cell}"


def worker_job(worker_id: str, campaign_id: str, job_id: str) -> tuple[str, str]:
    return f"WORKERJOB#{worker_id}", f"{campaign_id}#{job_id}"


def campaign_results_partition(campaign_id: str, result_id: str) -> str:
    return f"CRESULTS#{campaign_id}#{shard_of(result_id, RESULT_LIST_SHARDS):02d}"


def campaign_results_partitions(campaign_id: str) -> list[str]:
    return [f"CRESULTS#{campaign_id}#{n:02d}" for n in range(RESULT_LIST_SHARDS)]


def campaign_worker_results_partition(campaign_id: str, worker_id: str) -> str:
    return f"CWRESULTS#{campaign_id}#{worker_id}"


def campaign_worker(campaign_id: str, worker_id: str) -> tuple[str, str]:
    return f"CW#{campaign_id}", worker_id


def campaign_workers_partition(campaign_id: str) -> str:
    return f"CW#{campaign_id}"


def requester_worker(requester_id: str, worker_id: str) -> tuple[str, str]:
    return f"RW#{requester_id}#{worker_id}", "STATS"


def repeat_after_completion(campaign_id: str, job_id: str, result_id: str) -> tuple[str, str]:
    return f"REPEAT#{campaign_id}#{job_id}", result_id


def repeat_calendar(campaign_id: str, job_id: str) -> tuple[str, str]:
    return f"REPEAT#{campaign_id}#{job_id}", "CALENDAR"


def platform_revenue(shard: int) -> tuple[str, str]:
    return f"PLATFORM#REVENUE#{shard:02d}", "REVENUE"


def platform_revenue_shard(result_id: str) -> int:
    return shard_of(result_id, REVENUE_SHARDS)


# ---------------------------------------------------------------- bulk operations and task quotas
# OP#<account>#<operation>     / OPERATION        a bulk operation: parameters and counters
#   gsi1: OPS#<account>        / <submitted>#<op> the account's operations, newest last
# OP#<account>#<operation>     / CHUNK#<nnnnnn>   one chunk of the operation, stored (or dead-lettered)
# OP#<account>#<operation>     / INVALID#<nnnnnn> items refused by validation (their input and errors)
# QUOTA#<account>              / WINDOWS          tasks created in the current minute and day
#   A pool task is also listed by its campaign:
#   gsi2: POOL#<campaign>#<nn> / <task>           tasks of a campaign (pool), sharded
# POOLCHUNKS#<campaign>        / <op>#<chunk>     chunks counted while the campaign was unpublished
OPERATION_SK = "OPERATION"
POOL_TASK_SHARDS = 16


def operation(account_id: str, operation_id: str) -> tuple[str, str]:
    return operation_partition(account_id, operation_id), OPERATION_SK


def operation_partition(account_id: str, operation_id: str) -> str:
    return f"OP#{account_id}#{operation_id}"


def operation_chunk(account_id: str, operation_id: str, chunk: int) -> tuple[str, str]:
    return operation_partition(account_id, operation_id), f"CHUNK#{chunk:06d}"


def operation_invalid(account_id: str, operation_id: str, part: int) -> tuple[str, str]:
    return operation_partition(account_id, operation_id), f"INVALID#{part:06d}"


def operations_of_account(account_id: str) -> str:
    return f"OPS#{account_id}"


def task_quota(account_id: str) -> tuple[str, str]:
    return f"QUOTA#{account_id}", "WINDOWS"


def pool_tasks_partition(campaign_id: str, task_id: str) -> str:
    return f"POOL#{campaign_id}#{shard_of(task_id, POOL_TASK_SHARDS):02d}"


def pool_chunk(campaign_id: str, operation_id: str, chunk: int) -> tuple[str, str]:
    """A chunk of pool tasks counted while its campaign was unpublished: publishing opens exactly these."""
    return pool_chunks_partition(campaign_id), f"{operation_id}#{chunk:06d}"


def pool_chunks_partition(campaign_id: str) -> str:
    return f"POOLCHUNKS#{campaign_id}"


def pool_tasks_partitions(campaign_id: str) -> list[str]:
    return [f"POOL#{campaign_id}#{n:02d}" for n in range(POOL_TASK_SHARDS)]


# ---------------------------------------------------------------- quality control
# A#<requester>#SKILL#00               / <skill>      a skill (a collection of the requester)
# SKILLVAL#<skill>                     / <worker>     a worker's value of the skill
# A#<requester>#BLOCK#00               / <block>      a block (a collection of the requester)
# BLOCKED#<requester>#<worker>         / BLOCKS       the worker's blocks by that requester
# EARN#<requester>#<worker>            / <hour>       what the requester paid the worker in that UTC hour
# QACTIONS#<campaign>                  / <worker>#<rule>#<kind>#<seq>  a rule's action, once per observation
#   by_due: DUE#quality-action#<nn>    while its outcome is not recorded (a crash left it half done)
def skill_value(skill_id: str, worker_id: str) -> tuple[str, str]:
    return skill_values_partition(skill_id), worker_id


def skill_values_partition(skill_id: str) -> str:
    return f"SKILLVAL#{skill_id}"


def worker_blocks(requester_id: str, worker_id: str) -> tuple[str, str]:
    return f"BLOCKED#{requester_id}#{worker_id}", "BLOCKS"


def earnings(requester_id: str, worker_id: str, hour: str) -> tuple[str, str]:
    return earnings_partition(requester_id, worker_id), hour


def earnings_partition(requester_id: str, worker_id: str) -> str:
    return f"EARN#{requester_id}#{worker_id}"


def quality_action(campaign_id: str, mark: str) -> tuple[str, str]:
    return quality_actions_partition(campaign_id), mark


def quality_actions_partition(campaign_id: str) -> str:
    return f"QACTIONS#{campaign_id}"


QUALITY_ACTION_DUE = "quality-action"


def quality_action_due(campaign_id: str, mark: str, moment_iso: str) -> tuple[str, str]:
    """by_due key of an action not done yet: spread by campaign and mark, so one busy campaign
    does not fill a single partition."""
    pk, sk = quality_action(campaign_id, mark)
    return due(QUALITY_ACTION_DUE, moment_iso, f"{pk}#{sk}")


def parse_quality_action(pk: str, sk: str) -> tuple[str, str]:
    """(campaign id, mark) back from a quality_action key."""
    return pk.removeprefix("QACTIONS#"), sk


# ---------------------------------------------------------------- answers
# AGG#<campaign>#<shard>               / <task>       the live aggregate of a task (votes counted on write)
# AGGDS#<campaign>#<shard>             / <task>       the task's aggregate by the last Dawid-Skene run
AGGREGATE_SHARDS = 16
AGGREGATE_METHODS = {"live": "AGG", "dawid-skene": "AGGDS"}


def aggregate(campaign_id: str, task_id: str, method: str = "live") -> tuple[str, str]:
    prefix = AGGREGATE_METHODS[method]
    return f"{prefix}#{campaign_id}#{shard_of(task_id, AGGREGATE_SHARDS):02d}", task_id


def aggregate_partitions(campaign_id: str, method: str = "live") -> list[str]:
    prefix = AGGREGATE_METHODS[method]
    return [f"{prefix}#{campaign_id}#{n:02d}" for n in range(AGGREGATE_SHARDS)]


def task_aggregates_partition(task_id: str) -> str:
    """gsi2: a task's live aggregates, one per campaign (sort key: the campaign id)."""
    return f"AGGTASK#{task_id}"


# ---------------------------------------------------------------- bonuses
# A#<requester>#BONUS#00               / <bonus>      a bonus paid (a collection of the requester)
# BONUSREQ#<requester>#<sha256>        / BONUSREQ     the bonus one Idempotency-Key of the requester paid
def bonus_request(requester_id: str, key_digest: str) -> tuple[str, str]:
    return f"BONUSREQ#{requester_id}#{key_digest}", "BONUSREQ"
