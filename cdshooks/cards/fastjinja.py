"""A shortcut through Jinja for the card templates' macro calls, writing exactly what Jinja writes.

Why: a response renders ten cards from macros that call macros; Jinja's general call path
(`Context.call`, which asks the callee how it wants its context, then `Macro.__call__`, which maps
keywords, defaults, caller and varargs) was a third of the templates' time. A call of a macro with
exactly its positional arguments, no keyword, caller, varargs or autoescape is
`macro._func(*args)`, which is what Jinja's path returns then (`CardContext` for calls from a
template, `plain_function` for calls from cards/text.py). tests/cards/test_fast_macros.py renders
every finding of every fixture request with these and with Jinja's own Context.

`CardCodeGenerator` writes a template's `x.name` as an inline dict lookup when `x` is a plain
dict holding `name` (a facts dict: ~290 lookups per response), where Jinja writes a call of
`environment.getattr`; every other case still calls it (see the class).
"""

from __future__ import annotations

from types import BuiltinMethodType
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import Context, Macro

DICT_ATTRIBUTES = frozenset(dir(dict))
_LOOP_KEYWORDS = frozenset({"_loop_vars", "_block_vars"})  # Context.call drops these for a macro


def plain_arguments(macro: Macro) -> int:
    """How many positional arguments make a call of `macro` plain (Macro.__call__ adds nothing to
    them), or -1 when no call is (caller, catch-all keywords or varargs, an async environment)."""
    if macro.caller or macro.catch_kwargs or macro.catch_varargs or macro._environment.is_async:
        return -1
    return macro._argument_count


def plain_function(macro: Any, given: int) -> Any:
    """The compiled function of `macro` when calling it with `given` positional arguments is
    plain and unescaped, else None."""
    if type(macro) is Macro and plain_arguments(macro) == given and not macro._default_autoescape:
        return macro._func
    return None


class CardContext(Context):
    """Jinja's template context; a plain macro call skips the general call path (module doc)."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's own signature
        if type(__obj) is Macro and (not kwargs or kwargs.keys() <= _LOOP_KEYWORDS) and not __self.eval_ctx.autoescape:
            plain = __obj.__dict__.get("_cds_plain")
            if plain is None:
                plain = __obj._cds_plain = plain_arguments(__obj)  # a property of the macro: asked once
            if plain == len(args):
                try:
                    return __obj._func(*args)
                except StopIteration:  # as Context.call answers it
                    return __self.environment.undefined("value was undefined because a callable raised a StopIteration exception")
        elif type(__obj) is BuiltinMethodType:
            # A builtin function or a builtin type's bound method (`x.endswith(" kg")`, `c.get("ordered")`):
            # it has no attributes of its own, so no `jinja_pass_arg` (nor has its `__call__`), and
            # Context.call passes it nothing: it drops the loop and block variables and calls it.
            if kwargs:
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Context.call answers it
                return __self.environment.undefined("value was undefined because a callable raised a StopIteration exception")
        return super().call(__obj, *args, **kwargs)


_TEMP = "_cds_obj"  # a local of the generated function; Jinja's own names start with l_, t_ or are known words


class CardCodeGenerator(CodeGenerator):
    """Jinja's code generator, with `x.name` for a name no dict attribute has written as

        (_cds_obj['name'] if type(_cds_obj := x) is dict and 'name' in _cds_obj
         else environment.getattr(_cds_obj, 'name'))

    which is what `cards.text._CardEnvironment.getattr` answers for it (the item of a plain dict
    that has it; anything else - a missing key, another type - goes to that method as before),
    without a method call per lookup. `x` is evaluated once, as before; a nested `x.a.b` assigns
    the temporary in the inner lookup before the outer one reads it. Names a dict has as
    attributes (`f.get`, `f.items`) and async environments keep Jinja's form."""

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async or node.attr in DICT_ATTRIBUTES:
            super().visit_Getattr(node, frame)
            return
        name = repr(node.attr)
        self.write(f"({_TEMP}[{name}] if type({_TEMP} := ")
        self.visit(node.node, frame)
        self.write(f") is dict and {name} in {_TEMP} else environment.getattr({_TEMP}, {name}))")
