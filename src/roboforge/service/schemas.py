"""Request and response bodies of the job API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StringConstraints
from pydantic_core import PydanticCustomError

from roboforge.rl.options import DEVICE_PROBLEM, DEVICE_RE
from roboforge.service.config import MAX_ITERATIONS, MAX_JOB_GPUS, MAX_NUM_ENVS
from roboforge.service.limits import (
    MAX_KEY_CHARS,
    MAX_OVERRIDES,
    MAX_PARAM_CHARS,
    MAX_SWEEP_PARALLEL,
    MAX_SWEEP_PARAMS,
    MAX_SWEEP_TRIALS,
    MAX_VIDEO_CLIPS,
    short_repr,
)

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
Library = Literal["rsl_rl", "skrl", "rl_games", "sb3"]
"""The RL libraries (`roboforge.rl.libraries.LIBRARIES`)."""
PolicyType = Literal["PPO", "SAC"]
"""The algorithms (`roboforge.rl.libraries.ALGORITHMS`, upper case)."""


def _device_name(value: Any) -> Any:
    """A device name that is not cpu, cuda or cuda:N is a 422 in the command line's words (`--device`), not
    pydantic's quote of the pattern; values of other types are left to pydantic."""
    if isinstance(value, str) and not DEVICE_RE.fullmatch(value):
        raise PydanticCustomError("value_error", DEVICE_PROBLEM, {"device": short_repr(value)})
    return value


Device = Annotated[str | None, BeforeValidator(_device_name)]
"""`device` of a request; the schema keeps DEVICE_RE as its pattern."""


class JobRequest(BaseModel):
    """Start a training job."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"task": "cartpole", "policy_type": "PPO", "num_iterations": 100, "num_envs": 256},
                {"task": "cartpole", "library": "sb3", "policy_type": "SAC", "num_iterations": 100},
            ]
        },
    )
    task: str = Field(min_length=1, max_length=128, description="Task id (GET /tasks).")
    library: Library = Field(
        "rsl_rl", description="RL library; one the task has an agent config of (GET /tasks lists them)."
    )
    policy_type: PolicyType = Field(
        "PPO", description="RL algorithm; one the library and the task have (GET /tasks lists them)."
    )
    num_iterations: StrictInt = Field(
        ge=1, le=MAX_ITERATIONS, description="Total training iterations (one rollout and update each)."
    )
    num_envs: StrictInt | None = Field(
        None, ge=1, le=MAX_NUM_ENVS, description="Parallel worlds (default: the task's)."
    )
    seed: StrictInt | None = Field(None, ge=0, le=2**31 - 1, description="Random seed (default: the task's).")
    device: Device = Field(
        None,
        pattern=f"^({DEVICE_RE.pattern})$",
        description="cpu, cuda or cuda:N (default: cuda if present).",
    )
    num_gpus: StrictInt | None = Field(
        None,
        ge=0,
        le=MAX_JOB_GPUS,
        description="GPUs of one machine the job trains on (default: 1 when device is cuda, or names none and "
        "the server has a GPU; else 0). More than 1: data-parallel PPO under torchrun, num_envs worlds per "
        "GPU. At most the service's --max-job-gpus, and with --executor local the server's own GPUs.",
    )
    overrides: dict[Annotated[str, StringConstraints(max_length=MAX_KEY_CHARS)], Any] = Field(
        default_factory=dict,
        max_length=MAX_OVERRIDES,
        description="Config overrides {'env.episode_length_s': 10, 'agent.algorithm.learning_rate': 3e-4}; "
        f"at most {MAX_OVERRIDES} keys, sizes and rates within the service's limits.",
    )
    video_interval: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_ITERATIONS,
        description="Record a clip of the training env every N iterations (`train --video-interval`; GET "
        f"/jobs/{{id}}/videos/latest.mp4); at most {MAX_VIDEO_CLIPS} clips per job. Default: none.",
    )


class SweepParam(BaseModel):
    """One swept field as an object (the same rules as `PATH=DIST` text)."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=MAX_KEY_CHARS, description="agent.<path> or env.<path>.")
    distribution: Literal["uniform", "loguniform", "int", "choice"]
    low: float | None = Field(None, description="Lower bound (uniform, loguniform, int).")
    high: float | None = Field(None, description="Upper bound (uniform, loguniform, int).")
    choices: list[StrictInt | float | bool | Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        None, max_length=16, description="Values of a choice (2 to 16)."
    )


class SweepRequest(JobRequest):
    """Start a hyperparameter sweep: an Optuna study whose trials train `parallel` at a time (`roboforge sweep`);
    the training fields are those of POST /reinforcement-learning, `num_iterations` per trial."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "task": "cartpole",
                    "num_iterations": 50,
                    "num_envs": 256,
                    "trials": 8,
                    "params": ["agent.algorithm.learning_rate=loguniform:1e-4:1e-2"],
                    "metric": "Train/mean_reward",
                    "direction": "max",
                }
            ]
        },
    )
    trials: StrictInt = Field(8, ge=1, le=MAX_SWEEP_TRIALS, description="Trials to run.")
    parallel: StrictInt = Field(
        1,
        ge=1,
        le=MAX_SWEEP_PARALLEL,
        description="Trials that train at the same time: processes sharing the sweep job's cores, or jobs of "
        "the Ray cluster when the service runs with --executor ray (one GPU each on a CUDA device).",
    )
    params: list[Annotated[str, StringConstraints(max_length=MAX_PARAM_CHARS)] | SweepParam] = Field(
        min_length=1,
        max_length=MAX_SWEEP_PARAMS,
        description="Swept fields: 'PATH=uniform:LOW:HIGH', 'loguniform:LOW:HIGH', 'int:LOW:HIGH', "
        "'choice:A,B,C', or objects {path, distribution, low, high, choices}.",
    )
    metric: str = Field(
        "Train/mean_reward",
        min_length=1,
        max_length=MAX_KEY_CHARS,
        description="What a trial scores: its last value.",
    )
    direction: Literal["max", "min"] = "max"


class SweepTrialView(BaseModel):
    number: int
    params: dict[str, Any]
    value: float | None
    state: str = Field(description="Optuna's: running, complete, pruned, fail.")


class SweepView(BaseModel):
    id: str
    task: str
    status: JobState
    trials: int = Field(description="Trials asked for.")
    trials_done: int = Field(description="Trials that ended (complete, pruned or failed).")
    params: list[str]
    metric: str
    direction: str
    best_value: float | None
    best_params: dict[str, Any] | None
    best_trial: int | None
    trial_list: list[SweepTrialView]
    job: JobView = Field(description="The sweep's job (GET /jobs/{id}: log, artifacts, state history).")


class SweepList(BaseModel):
    count: int
    sweeps: list[SweepView]


class ResumeRequest(BaseModel):
    """Resume a stopped job from its last checkpoint, optionally to a new total of iterations."""

    model_config = ConfigDict(extra="forbid")
    num_iterations: StrictInt | None = Field(None, ge=1, le=MAX_ITERATIONS)


class JobStarted(BaseModel):
    status: str = Field(description="'RL training job started'.")
    job_id: str
    job_status: JobState
    estimated_completion_hours: float | None = Field(
        description="Training time from the speed of earlier jobs of this task on this service (scaled by "
        "num_envs), before any from a table of measured throughputs per task and device."
    )
    log_link: str
    job_link: str


class JobEventView(BaseModel):
    at: datetime
    status: JobState
    message: str


class JobView(BaseModel):
    id: str
    kind: str = Field("train", description="train, or sweep (POST /sweeps).")
    task: str
    library: str = Field(description="RL library (jobs from before libraries were selectable: rsl_rl).")
    policy_type: str
    status: JobState
    iteration: int = Field(description="Iterations completed.")
    num_iterations: int
    progress: float = Field(description="iteration / num_iterations, 0..1.")
    num_envs: int
    seed: int | None
    device: str | None
    num_gpus: int = Field(description="GPUs the job trains on (more than 1: under torchrun).")
    overrides: dict[str, Any]
    video_interval: int | None = Field(None, description="Iterations between training clips (None: none).")
    latest_video_link: str | None = Field(
        None,
        description="The newest training clip (MP4; 404 until the first is written), with video_interval.",
    )
    latest_metrics: dict[str, Any] | None
    seconds_per_iteration: float | None
    estimated_remaining_s: float | None
    attempt: int
    cancel_requested: bool
    returncode: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    log_link: str
    metrics_link: str
    artifacts_link: str
    events: list[JobEventView] | None = None


class JobList(BaseModel):
    count: int
    jobs: list[JobView]


class AlgorithmInfo(BaseModel):
    policy_type: str
    default_num_iterations: int | None = Field(
        description="Iterations the agent config asks for (with default_num_envs worlds)."
    )


class TaskInfo(BaseModel):
    id: str
    description: str
    default_num_envs: int | None
    default_num_iterations: int | None = Field(
        description="Iterations of the default library's PPO (rsl_rl)."
    )
    libraries: dict[str, list[AlgorithmInfo]] = Field(
        description="The RL libraries the task has agent configs of, with their policy types."
    )


class TaskList(BaseModel):
    tasks: list[TaskInfo]
    installed_libraries: list[str] = Field(description="The libraries this server can train with.")


class ArtifactView(BaseModel):
    path: str
    kind: str
    size: int
    modified: datetime
    url: str


class ArtifactList(BaseModel):
    job_id: str
    artifacts: list[ArtifactView]


class MetricsView(BaseModel):
    job_id: str
    iterations: list[int]
    series: dict[str, list[float | None]] = Field(description="One value per iteration (null where absent).")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: Literal["ok"]


class ErrorBody(BaseModel):
    """An error answer: what was wrong and what to do."""

    detail: str = Field(description="What was wrong with the request and what is allowed.")


class ErrorDetail(BaseModel):
    """One problem of a request (422)."""

    type: str
    loc: list[str | int] = Field(
        description="Where: ['body', 'overrides', 'env.foo'], ['query', 'limit'] ..."
    )
    msg: str
    input: Any = Field(None, description="The value sent (a short repr when long).")
    ctx: dict[str, Any] | None = None


class ValidationErrorBody(BaseModel):
    """A request that does not fit the schema or the task's configs (422)."""

    detail: list[ErrorDetail]
    message: str = Field(description="All problems in one line: 'field: problem; ...'.")
