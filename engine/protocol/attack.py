"""Adversarial attacks on a trained classifier: one text, or N examples of a dataset's split
as a job, with the summary table TextAttack prints and every example in its log columns.

A recipe is a named attack with settings (`attack.recipes` lists them):
- embedding space (white box): fgsm, pgd, cw perturb the vectors the model reads (the
  embedding layer's output) within a norm ball (L-infinity or L2) or, for C&W, as little as
  flips the prediction; specials and padding are never moved. Each perturbed vector is then
  snapped to its nearest vocabulary token and the model reads the snapped text: the example
  reports both (flipped in embedding space, and after snapping, which is its result).
- gradient-guided token swaps (white box): hotflip.
- black box (queries only; also features-logreg runs, model folders and ensembles): wordsub
  (TextFooler-style word substitution with GloVe or model-embedding neighbours), charedit
  (DeepWordBug-style character edits inside important words).

Scores follow TextAttack's goal functions: for an untargeted attack the score of an output is
1 - p(ground truth); for a targeted one p(target). An attack is skipped when the model already
gets the example wrong (untargeted) or already predicts the target (targeted), successful when
the perturbed text reaches the goal when run again from text, failed otherwise (also when the
query budget ran out).
"""

from __future__ import annotations

from typing import Literal

from engine.protocol.base import Base, Returns, StartsJob

RecipeKind = Literal["embedding", "gradient", "black-box"]
ResultType = Literal["Successful", "Failed", "Skipped"]
SettingValue = int | float | str | bool

# --------------------------------------------------------------------- values


class RecipeSetting(Base):
    """One setting of a recipe: its name, type, default, bounds and what it does."""

    name: str
    type: Literal["int", "float", "str", "bool"]
    default: SettingValue
    help: str
    low: float | None = None  # numbers: the smallest value allowed
    high: float | None = None
    choices: list[str] = []  # strings: the values allowed ([]: any)


class RecipeInfo(Base):
    """A recipe: its name, kind, what it does, its settings, and whether it needs gradients
    (the embeddings door: not features-logreg runs, folders of other kinds or ensembles)."""

    name: str
    kind: RecipeKind
    title: str  # "PGD in embedding space", "word substitution (TextFooler-style)"
    description: str
    settings: list[RecipeSetting]
    needs_gradients: bool


class TextChange(Base, gc=False):
    """One edit: characters [start, end) of the original text became [new_start, new_end) of
    the perturbed one (old -> new)."""

    start: int
    end: int
    new_start: int
    new_end: int
    old: str
    new: str


class AttackStep(Base, gc=False):
    """One step of an embedding-space attack on one example: the loss it maximised, the
    model's label and probabilities on the perturbed vectors, the perturbation's norm, and the
    text the vectors snap to at that step."""

    step: int
    loss: float
    label: str
    probabilities: list[float]
    norm: float
    snapped_text: str = ""


class AttackExample(Base, gc=False):
    """One attacked example, with TextAttack's log columns (ground_truth_output ...
    result_type; outputs are class names, scores goal scores) and what the screen shows."""

    row: int  # the example's row in its split (-1: a text given in the call)
    ground_truth_output: str
    original_text: str
    perturbed_text: str  # == original_text when skipped or failed with no change kept
    original_output: str
    perturbed_output: str
    original_score: float
    perturbed_score: float
    num_queries: int
    result_type: ResultType
    original_probabilities: list[float]
    perturbed_probabilities: list[float]
    changes: list[TextChange] = []
    words: int = 0  # words of the original text
    perturbed_words: int = 0  # of which changed
    seconds: float = 0.0
    # embedding-space recipes
    embedding_flipped: bool | None = None  # the perturbed vectors reached the goal
    perturbation_norm: float | None = None  # of the vectors' change (the recipe's norm)
    steps: list[AttackStep] = []  # per step, when the call asked for a trace
    note: str = ""  # why failed or skipped, in words


class AttackSummary(Base, gc=False):
    """TextAttack's summary table over the examples, plus time per example and, for
    embedding-space recipes, epsilon, norm and both flip rates. Rates are percentages of the
    attacked examples (successful + failed); accuracies of all of them."""

    examples: int
    successful: int
    failed: int
    skipped: int
    original_accuracy: float  # % the model got right before the attack
    accuracy_under_attack: float  # % still right after it
    attack_success_rate: float  # successful / (successful + failed), %
    avg_perturbed_word_pct: float  # over successful attacks
    avg_words_per_input: float  # over all examples
    avg_queries: float  # over attacked (not skipped) examples
    seconds_per_example: float
    epsilon: float | None = None
    norm: str = ""  # "inf", "2"
    embedding_flip_rate: float | None = None  # % of attacked examples flipped in vectors
    snapped_flip_rate: float | None = None  # % flipped after snapping (== success rate)


# --------------------------------------------------------------------- results


class AttackRecipesResult(Base, tag="attack.recipes_result"):
    recipes: list[RecipeInfo]


class AttackResult(Base, tag="attack.result"):
    """An attack's end: which model and recipe with which settings, the summary, and every
    example (a batch of N examples keeps them all: N is at most 1,000)."""

    run_id: str
    description: str  # "run r3 (embedding-bag on reviews)", "an ensemble of 3 runs"
    recipe: str
    settings: dict[str, SettingValue]  # every setting, defaults filled in
    labels: list[str]
    summary: AttackSummary
    examples: list[AttackExample]
    dataset: str = ""
    split: str = ""
    target: str = ""
    step: int = 0  # the checkpoint's step (a run)
    ensemble: list[str] = []  # the other runs that voted with run_id


# --------------------------------------------------------------------- calls


class AttackRecipes(Returns[AttackRecipesResult], tag="attack.recipes"):
    """Every recipe with its settings."""


class AttackRun(StartsJob[AttackResult], tag="attack.run"):
    """Attack a classifier, as a job with progress: the texts given (with their labels, or the
    model's own predictions as ground truth when labels is empty), or n examples of a dataset's
    split (dataset "": the run's own) drawn with seed.

    run_id names a run (its best checkpoint; while it trains its latest complete one) or the
    absolute path of a model folder on the engine's machine; ensemble names more runs that
    vote with it (their probabilities averaged: black-box recipes only). target "" is
    untargeted; otherwise the class to reach. budget caps the model queries per example
    (None: the recipe's default; 0 is refused: it leaves nothing to attack with).
    settings override the recipe's (attack.recipes lists them; unknown names are refused).
    trace keeps an embedding-space attack's steps for each example. (The CSV export in
    TextAttack's log columns is written by the client, from the result's examples.)"""

    run_id: str
    recipe: str
    texts: list[str] = []
    labels: list[str] = []
    dataset: str = ""
    split: str = "test"
    n: int = 100
    seed: int = 0
    target: str = ""
    budget: int | None = None
    settings: dict[str, SettingValue] = {}
    trace: bool = False
    ensemble: list[str] = []
