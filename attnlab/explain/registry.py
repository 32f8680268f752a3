"""One registry of explanation methods, with what each method is and what it needs.

Every method answers the same question, "how much does each token matter for this prediction?", with
the same call, whatever the model::

    weights = explain("leave_one_out", model, batch)      # (B, T); exactly 0 on padding
    weights = explain_all(model, batch)                    # {name: (B, T)} for methods_for(model)

``batch`` is a :class:`attnlab.data.Batch` (or pass ``tokens, mask``). Unless ``target`` is given,
each method explains the model's *predicted* class ``ŷ``, and gradients are taken of its softmax
probability ``f(x)_ŷ`` (as in Liu et al. 2022). Positive weights mean "supports ŷ", negative weights
mean "suppresses ŷ"; a method declared ``signed=False`` (raw attention, say) cannot say which.

A method is one decorated function ``f(model, tokens, mask, target, **options) -> (B, T)``::

    @register("my_method", signed=True, needs=("embeddings",), label="Mine", reference="")
    def my_method(model, tokens, mask, target): ...

``needs`` says what the method uses of the model (the vocabulary of
:data:`attnlab.models.CAPABILITIES`: ``embeddings``, ``removal``, ``pooled_attention``,
``readout_weight``, ``layer_attentions``); :func:`methods_for` lists the methods a model can run, so a
new method appears in chapters 5 and 6 and in the explorer without further edits. One name means one
method: where pooled-attention and layered (Transformer) models need different code for the same
method (raw attention, AttGrad, AttIN), the name is registered once per kind, with the same
metadata, and :func:`explain` picks the implementation that fits the model. Registering the same
function again (a re-run notebook cell) replaces it harmlessly; another function under a taken name
is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .. import validate
from ..batching import by_length
from ..data import Batch, check_padded
from ..device import model_device
from ..models import CAPABILITIES, capabilities

ExplanationMethod = Callable[..., torch.Tensor]


@dataclass
class Method:
    """A registered explanation method: what it is (label, sign, reference) and its implementations, one
    per set of ``needs`` (e.g. pooled attention, layer attentions)."""

    name: str
    label: str
    signed: bool
    reference: str = ""
    description: str = ""
    implementations: list[tuple[frozenset[str], ExplanationMethod]] = field(default_factory=list)

    @property
    def needs(self) -> list[frozenset[str]]:
        """The needs of each implementation (a model must offer all needs of at least one)."""
        return [needs for needs, _ in self.implementations]

    def implementation_for(self, model) -> ExplanationMethod | None:
        """The implementation whose needs ``model`` (a model, or a kind: see :func:`methods_for`) offers
        (None: the method does not apply)."""
        offered = capabilities(model)
        return next((fn for needs, fn in self.implementations if needs <= offered), None)

    def applies_to(self, model) -> bool:
        return self.implementation_for(model) is not None

    def __call__(self, model, tokens, mask, target, **options) -> torch.Tensor:
        """Run the implementation that fits ``model`` on one chunk (no batching; see :func:`explain`)."""
        fn = self.implementation_for(model)
        if fn is None:
            raise TypeError(
                f"explanation method {self.name!r} needs {_needs_text(self)}, which "
                f"{type(model).__name__} does not offer (it offers {sorted(capabilities(model))}); "
                f"methods for this model: {methods_for(model)}"
            )
        return fn(model, tokens, mask, target, **options)


#: Every registered method by name.
METHODS: dict[str, Method] = {}

#: While :func:`explain_all` runs: gradients its methods share, per chunk of sentences (AttGrad and its
#: three ablations need the same ∂f/∂α, InputGrad and the gradient norm the same ∂f/∂e).
_shared: dict | None = None


def _needs_text(method: Method) -> str:
    return " or ".join("{" + ", ".join(sorted(n)) + "}" for n in method.needs)


def _same_function(a, b) -> bool:
    """True for one function defined twice by re-running the same cell or module."""
    return a is b or (
        getattr(a, "__module__", None) == getattr(b, "__module__", None)
        and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None)
    )


def register(
    name: str,
    *,
    signed: bool,
    needs=("embeddings",),
    label: str | None = None,
    reference: str = "",
    replace: bool = False,
) -> Callable[[ExplanationMethod], ExplanationMethod]:
    """Add an explanation method ``f(model, tokens, mask, target, **options) -> (B, T) weights``.

    ``signed``: whether a negative weight means "suppresses the prediction" (False: the weights are
    non-negative and say only "matters"). ``needs``: what the method uses of the model (see the module
    docstring). ``label``: the short name of the papers (e.g. ``"AttGrad"``); ``reference``: a key of
    the book's bibliography. The function's docstring becomes the method's description. A second
    registration of ``name`` with other ``needs`` adds an implementation for another kind of model (its
    ``signed`` must agree); ``replace=True`` replaces an implementation with different code.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"an explanation method needs a non-empty name, got {name!r}")
    if not isinstance(signed, bool):
        raise TypeError(f"signed must be True or False (does a negative weight mean 'suppresses'?), got {signed!r}")
    if isinstance(needs, str):
        needs = (needs,)
    needs = frozenset(needs)
    unknown = sorted(needs - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"unknown needs {unknown} for {name!r}; choose from {sorted(CAPABILITIES)}")

    def add(fn: ExplanationMethod) -> ExplanationMethod:
        if not callable(fn):
            raise TypeError(f"register({name!r}) decorates a function f(model, tokens, mask, target), got {fn!r}")
        description = ((fn.__doc__ or "").strip().split("\n\n")[0]).replace("\n", " ")
        method = METHODS.get(name)
        if method is None:
            method = METHODS[name] = Method(name, label or name, signed, reference, description)
        elif method.signed != signed:
            raise ValueError(
                f"{name!r} is registered with signed={method.signed}; an implementation for another "
                "kind of model must mean the same (or choose another name)"
            )
        for i, (existing_needs, existing) in enumerate(method.implementations):
            if existing_needs == needs:
                if not (replace or _same_function(existing, fn)):
                    raise ValueError(
                        f"an explanation method named {name!r} needing {sorted(needs)} is already "
                        f"registered ({existing.__module__}.{existing.__qualname__}); choose another "
                        "name, or pass replace=True"
                    )
                method.implementations[i] = (needs, fn)
                break
        else:
            method.implementations.append((needs, fn))
        if label:
            method.label = label
        if reference:
            method.reference = reference
        return fn

    return add


def unregister(name: str) -> None:
    """Remove a method from the registry (e.g. a toy method at the end of a test)."""
    if name not in METHODS:
        raise KeyError(f"no explanation method named {name!r}")
    del METHODS[name]


def methods_for(model) -> list[str]:
    """Names of the registered methods that ``model`` can run, in registration order. ``model`` may
    also be a kind of model, ``"pooled"`` or ``"layered"``, before one is built."""
    return [name for name, method in METHODS.items() if method.applies_to(model)]


def is_signed(method: str) -> bool:
    """Whether ``method``'s weights carry a sign (declared at registration, never guessed from data)."""
    if method not in METHODS:
        raise KeyError(f"unknown explanation method {method!r}; registered: {sorted(METHODS)}")
    return METHODS[method].signed


def _shared_result(name: str, compute, model, tokens, mask, target):
    """``compute(model, tokens, mask, target)``, computed once per chunk while :func:`explain_all` runs."""
    if _shared is None:
        return compute(model, tokens, mask, target)
    key = (
        name,
        id(model),
        tuple(tokens.shape),
        tokens.cpu().numpy().tobytes(),
        mask.cpu().numpy().tobytes(),
        target.cpu().numpy().tobytes(),
    )
    if key not in _shared:
        _shared[key] = compute(model, tokens, mask, target)
    return _shared[key]


def explain(
    method: str,
    model,
    batch: Batch | torch.Tensor,
    mask: torch.Tensor | None = None,
    target: torch.Tensor | None = None,
    batch_size: int = 64,
    **options,
) -> torch.Tensor:
    """Token weights ``(B, T)`` of one registered method; padding positions get exactly 0.

    Sentences are processed in chunks of ``batch_size`` sentences of similar length: backpropagating
    through a recurrent encoder is several times faster on small, tightly padded batches than on one
    huge batch (:func:`attnlab.batching.by_length`). ``options`` go to the method (e.g. ``steps=`` for
    integrated gradients). A method that does not apply to ``model`` is refused (see :func:`methods_for`).
    The method runs on the model's device (:func:`attnlab.device.model_device`); the weights come back on
    the device of ``tokens``.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise KeyError(f"unknown explanation method {method!r}; registered: {sorted(METHODS)}")
    implementation = METHODS[method]
    tokens, mask = (batch.tokens, batch.mask) if isinstance(batch, Batch) else (batch, mask)
    if mask is None:
        raise ValueError("pass a Batch, or tokens together with their mask")
    check_padded(tokens, mask)
    if not implementation.applies_to(model):
        implementation(model, tokens, mask, target)  # raises: says what the method needs
    batch_size = validate.integer("batch_size", batch_size, minimum=1)
    model.eval()
    given_on, device = tokens.device, model_device(model, tokens)
    tokens, mask = tokens.to(device), mask.to(device)
    if target is None:
        target = predicted_class(model, tokens, mask)
    else:
        n_classes = validate.n_classes_of(model)
        validate.class_labels("target", target, n_classes if n_classes else int(target.max()) + 1, len(tokens))
        target = target.to(device)
    weights = torch.zeros(tokens.shape, device=device)
    for idx, width in by_length(mask, batch_size):
        chunk = implementation(model, tokens[idx, :width], mask[idx, :width], target[idx], **options)
        if not isinstance(chunk, torch.Tensor) or tuple(chunk.shape) != (len(idx), width):
            raise ValueError(
                f"explanation method {method!r} returned "
                f"{tuple(chunk.shape) if isinstance(chunk, torch.Tensor) else type(chunk).__name__}"
                f", expected a tensor of shape ({len(idx)}, {width}): one weight per token"
            )
        weights[idx, :width] = chunk.detach().float().to(device)
    weights = weights.masked_fill(~mask, 0.0)
    if not bool(torch.isfinite(weights).all()):
        bad = int((~torch.isfinite(weights)).any(1).sum())
        raise ValueError(
            f"explanation method {method!r} returned NaN or infinite weights for {bad} sentence(s); "
            "an explanation must be finite (a NaN would pass the violation test as 'no violation')"
        )
    return weights.to(given_on)


@torch.no_grad()
def predicted_class(model, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's predicted class ``(B,)`` (computed on the model's device, returned on the tokens')."""
    device = model_device(model, tokens)
    return model(tokens.to(device), mask.to(device)).logits.argmax(-1).to(tokens.device)


def target_prob(output, target: torch.Tensor) -> torch.Tensor:
    """``f(x)_target``: each row's softmax probability of its target class, from a model output."""
    return output.probs.gather(1, target[:, None]).squeeze(1)


def explain_all(
    model, batch: Batch, methods=None, *, options: dict[str, dict] | None = None, batch_size: int = 64
) -> dict[str, torch.Tensor]:
    """Weights of several methods (default: every one that applies to the model, :func:`methods_for`)
    for the same batch: ``{name: (B, T)}``.

    The predicted class is computed once and shared, so every method explains the same ŷ.
    ``options`` maps a method name to keyword options for it (e.g. ``{"integrated_gradients":
    {"steps": 10}}``). The weights are on the batch's device (see :func:`explain`).
    """
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names, got the string {methods!r}; write [{methods!r}]")
    if not isinstance(batch, Batch):
        raise TypeError(f"explain_all takes a Batch (see attnlab.data.encode), got {type(batch).__name__}")
    methods = methods_for(model) if methods is None else list(methods)
    if not methods:
        raise ValueError("methods is empty: name at least one explanation method")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise KeyError(f"unknown explanation methods {unknown}; registered: {sorted(METHODS)}")
    unfit = [m for m in methods if not METHODS[m].applies_to(model)]
    if unfit:
        raise TypeError(f"{type(model).__name__} cannot run {unfit}; methods for this model: {methods_for(model)}")
    options = options or {}
    stray = [name for name in options if name not in methods]
    if stray:
        raise ValueError(f"options given for methods that are not run: {stray}; methods: {methods}")
    given_on = batch.device
    batch = batch.to(model_device(model, batch.tokens))  # moved once, not once per method
    target = predicted_class(model, batch.tokens, batch.mask)
    global _shared
    outer, _shared = _shared, ({} if _shared is None else _shared)
    try:  # the methods share gradients they all need (computed once per chunk of sentences)
        return {
            name: explain(name, model, batch, target=target, batch_size=batch_size, **options.get(name, {})).to(
                given_on
            )
            for name in methods
        }
    finally:
        _shared = outer
