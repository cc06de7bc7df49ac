"""The body of a ``bind=True`` task: ``self`` becomes a ``JobContext`` parameter.

``self.request.id/retries/args/headers/eta`` and ``self.name`` read the context
(``self.request.kwargs`` a copy of it as a dict, as Celery's is);
``self.retry(exc=e, countdown=n)`` (raised, returned or called) becomes
``raise Retry(delay=n, exc=e)``. Any other use of ``self`` (``update_state``, ``self.app``,
passing ``self`` on) has no neutral counterpart: the definition then stays on the shim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from lexigram_compat.migrate.names import dotted

__all__ = ["BoundBody", "convert_bound"]

_REQUEST = {
    "id": "job_id",
    "retries": "retries",
    "args": "args",
    "kwargs": "kwargs",
    "headers": "headers",
    "eta": "eta",
    "task": "task_name",
}
_RETRY_KEYWORDS = {"exc": "exc", "countdown": "delay"}


@dataclass
class BoundBody:
    """The converted function, or the uses of ``self`` that kept it from converting."""

    function: cst.FunctionDef | None
    problems: list[str] = field(default_factory=list)
    retries: int = 0


class _SelfRewriter(cst.CSTTransformer):
    def __init__(self, self_name: str, ctx: str) -> None:
        super().__init__()
        self.self_name = self_name
        self.ctx = ctx
        self.problems: list[str] = []
        self.retries = 0

    def _ctx(self, attr: str) -> cst.Attribute:
        return cst.Attribute(cst.Name(self.ctx), cst.Name(attr))

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        text = dotted(updated)
        if text is None:
            return updated
        if text == f"{self.self_name}.name":
            return self._ctx("task_name")
        if text == f"{self.self_name}.max_retries":
            return cst.parse_expression(f"({self.ctx}.max_attempts - 1)")
        prefix = f"{self.self_name}.request."
        if text == f"{prefix}kwargs":
            # Celery's request.kwargs is a plain dict (JSON-serialisable, mutable); the
            # context's is a read-only mapping: a copy keeps what the body does with it working.
            return cst.Call(cst.Name("dict"), [cst.Arg(self._ctx("kwargs"))])
        if text.startswith(prefix) and text[len(prefix) :] in _REQUEST:
            return self._ctx(_REQUEST[text[len(prefix) :]])
        return updated

    def _routing_key(self, node: cst.BaseExpression) -> bool:
        return dotted(node) == f"{self.self_name}.request.delivery_info"

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.BaseExpression:
        if self._routing_key(updated.value) and m.matches(
            updated, m.Subscript(slice=[m.SubscriptElement(m.Index(m.SimpleString()))])
        ):
            index = updated.slice[0].slice
            if (
                isinstance(index, cst.Index)
                and isinstance(index.value, cst.SimpleString)
                and index.value.evaluated_value == "routing_key"
            ):
                return self._ctx("queue")
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = updated.func
        if isinstance(func, cst.Attribute) and func.attr.value == "get" and self._routing_key(func.value):
            first = updated.args[0].value if updated.args else None
            if isinstance(first, cst.SimpleString) and first.evaluated_value == "routing_key":
                return self._ctx("queue")
        return updated

    def _retry(self, node: cst.BaseExpression | None) -> cst.Call | None:
        """``Retry(...)`` for a ``self.retry(...)`` call, or None (not one, or not convertible)."""
        if not (isinstance(node, cst.Call) and dotted(node.func) == f"{self.self_name}.retry"):
            return None
        args: list[cst.Arg] = []
        for arg in node.args:
            keyword = arg.keyword.value if arg.keyword else None
            if keyword in _RETRY_KEYWORDS:
                args.append(arg.with_changes(keyword=cst.Name(_RETRY_KEYWORDS[keyword])))
            elif keyword == "max_retries":
                value = arg.value
                attempts: cst.BaseExpression = (
                    cst.Integer(str(int(value.value) + 1))
                    if isinstance(value, cst.Integer)
                    else cst.BinaryOperation(value, cst.Add(), cst.Integer("1"))
                )
                args.append(arg.with_changes(keyword=cst.Name("max_attempts"), value=attempts))
            else:
                self.problems.append(f"self.retry({keyword or 'positional'}=...)")
                return None
        self.retries += 1
        return node.with_changes(func=cst.Name("Retry"), args=args)

    def leave_Raise(self, original: cst.Raise, updated: cst.Raise) -> cst.Raise:
        retry = self._retry(updated.exc)
        return updated if retry is None else updated.with_changes(exc=retry)

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.BaseSmallStatement:
        retry = self._retry(updated.value)
        return updated if retry is None else cst.Raise(exc=retry)

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr) -> cst.BaseSmallStatement:
        retry = self._retry(updated.value)
        return updated if retry is None else cst.Raise(exc=retry)


def _context_name(node: cst.FunctionDef) -> str:
    used = {n.value for n in m.findall(node, m.Name()) if isinstance(n, cst.Name)}
    return next(name for name in ("ctx", "job_context", "job_ctx") if name not in used)


def convert_bound(node: cst.FunctionDef, module: cst.Module) -> BoundBody:
    """``node`` (a bound task) with its ``self`` parameter replaced by a keyword-only
    ``JobContext`` one, or the problems that prevent it."""
    params = node.params
    if not params.params:
        return BoundBody(None, ["bind=True without a self parameter"])
    self_name = params.params[0].name.value
    ctx = _context_name(node)
    rewriter = _SelfRewriter(self_name, ctx)
    body = node.body.visit(rewriter)
    assert isinstance(body, cst.BaseSuite)
    # What is left of self after the rewrite has no neutral counterpart (self.update_state,
    # self.app, a bare self.request, self passed on): name each such use.
    uses = m.findall(body, m.Attribute(value=m.Name(self_name)))
    left = sorted({module.code_for_node(use) for use in uses})
    if len(m.findall(body, m.Name(self_name))) > len(uses):
        left.append(f"{self_name} passed on or used as a value")
    problems = rewriter.problems + left
    if problems:
        return BoundBody(None, problems)
    used_ctx = bool(m.findall(body, m.Name(ctx)))
    rest = list(params.params[1:])
    new_params = params.with_changes(params=rest)
    if used_ctx:
        context = cst.Param(cst.Name(ctx), annotation=cst.Annotation(cst.Name("JobContext")))
        star = params.star_arg
        if not isinstance(star, cst.Param | cst.ParamStar):
            star = cst.ParamStar()
        new_params = new_params.with_changes(star_arg=star, kwonly_params=[*params.kwonly_params, context])
    return BoundBody(node.with_changes(params=new_params, body=body), retries=rewriter.retries)
