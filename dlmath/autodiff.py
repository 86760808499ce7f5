r"""A tiny reverse-mode automatic differentiation engine on scalars (chapter 5).

In the style of Karpathy's micrograd: a :class:`Value` wraps one number and
remembers its *operands*, the values it was computed from. (micrograd calls
them the node's children; chapter 5 uses *children* the other way round, for
the nodes that use a value, so a node is a child of each of its operands.)
Each operation creates a new node and writes down, right next to the forward
formula, its *local* derivatives. :meth:`Value.backward` then walks the graph
from the output back to the inputs and applies the chain rule, summing over
every path (chapter 5, :eq:`eq-bp-chain-rule-graph`):

.. math::
    \bar v_i = \frac{\partial\,\text{out}}{\partial v_i}
    = \sum_{j \,:\, v_i \to v_j} \bar v_j \, \frac{\partial v_j}{\partial v_i},
    \qquad \bar{\text{out}} = 1.

PyTorch's autograd does the same thing on tensors (``loss.backward()``
accumulates into ``.grad`` of the leaves that require a gradient); JAX
instead transforms a function, ``jax.grad(f)``, and returns fresh gradients
each call. :meth:`Value.backward` is in between: it resets the gradients of
the nodes in its own graph only (see its docstring).

Example
-------
>>> a, b = Value(2.0), Value(-3.0)
>>> out = a * b + a.tanh()
>>> out.backward()
>>> round(b.grad, 6)
2.0
"""
import math
import numbers


class Value:
    r"""One scalar node of a computation graph, with the gradient of an output.

    Parameters
    ----------
    data : real number
        The value (stored as a Python float). Booleans, strings, arrays and
        other non-numbers are a ``TypeError``.
    label : str, optional
        A name, only for printing.

    Attributes
    ----------
    data : float
        The value computed by the forward pass.
    grad : float
        :math:`\partial\,\text{out} / \partial\,\text{self}`, where ``out``
        is the last output whose :meth:`backward` was called with this node in
        its graph; 0 before any such call. A call on an output whose graph
        does not contain this node leaves its ``grad`` unchanged, so after
        ``(a * b).backward(); (a * c).backward()`` the node ``b`` still holds
        the old :math:`\partial (ab) / \partial b`.
    """

    __array_ufunc__ = None  # numpy must defer to Value's reflected operators

    def __init__(self, data, label="", _operands=(), _op=""):
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(
                f"Value: data must be a real number (int or float), got {type(data).__name__} {data!r}"
            )
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self._operands = tuple(_operands)
        self._op = _op
        self._backward = lambda: None  # pushes self.grad to the operands

    def __repr__(self):
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # -- arithmetic ---------------------------------------------------------

    def __add__(self, other):
        other = _as_value(other, "+")
        out = Value(self.data + other.data, _operands=(self, other), _op="+")

        def _backward():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _as_value(other, "*")
        out = Value(self.data * other.data, _operands=(self, other), _op="*")

        def _backward():  # d(a b)/da = b, d(a b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            raise TypeError(
                "Value ** Value is not supported: the exponent must be a plain number "
                "(write exp(b * log(a)) for a variable exponent)"
            )
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"Value ** p: p must be a real number, got {exponent!r}")
        p = float(exponent)
        x = self.data
        if x == 0.0 and p < 0:
            raise ZeroDivisionError(f"Value ** {p:g}: 0 to a negative power is undefined")
        if x < 0 and not p.is_integer():
            raise ValueError(
                f"Value ** {p:g}: a negative base ({x:g}) to a non-integer power is not real"
            )
        out = Value(x**p, _operands=(self,), _op=f"**{p:g}")

        def _backward():  # d(x^p)/dx = p x^(p-1), and 0 for p = 0 (x^0 = 1 is constant)
            if p == 0.0:
                return
            if x == 0.0 and 0 < p < 1:
                raise ZeroDivisionError(
                    f"Value ** {p:g}: the derivative p x^(p-1) is infinite at x = 0"
                )
            self.grad += p * x ** (p - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):  # -a = a * (-1)
        return self * -1.0

    def __sub__(self, other):  # a - b = a + (-b)
        return self + (-_as_value(other, "-"))

    def __truediv__(self, other):  # a / b = a * b^(-1)
        other = _as_value(other, "/")
        if other.data == 0.0:
            raise ZeroDivisionError(f"Value division by zero: {self.data:g} / 0")
        return self * other**-1

    def __radd__(self, other):  # number + Value
        return self + other

    def __rmul__(self, other):  # number * Value
        return self * other

    def __rsub__(self, other):  # number - Value
        return _as_value(other, "-") - self

    def __rtruediv__(self, other):  # number / Value
        return _as_value(other, "/") / self

    # -- elementary functions ----------------------------------------------

    def exp(self):
        r"""The exponential :math:`e^x`; its derivative is :math:`e^x` itself."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(
                f"Value.exp: exp({self.data:g}) is larger than the largest float"
            ) from None
        out = Value(e, _operands=(self,), _op="exp")

        def _backward():  # d e^x / dx = e^x
            self.grad += e * out.grad

        out._backward = _backward
        return out

    def log(self):
        r"""The natural logarithm :math:`\log x` for :math:`x > 0`; derivative :math:`1/x`."""
        x = self.data
        if x <= 0:
            raise ValueError(f"Value.log: log is only defined for x > 0, got x = {x:g}")
        out = Value(math.log(x), _operands=(self,), _op="log")

        def _backward():  # d log x / dx = 1 / x
            self.grad += out.grad / x

        out._backward = _backward
        return out

    def tanh(self):
        r"""The hyperbolic tangent; derivative :math:`1 - \tanh^2 x`."""
        t = math.tanh(self.data)
        out = Value(t, _operands=(self,), _op="tanh")

        def _backward():  # d tanh x / dx = 1 - tanh^2 x
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        r"""The logistic sigmoid :math:`\sigma(x)`; derivative :math:`\sigma(x)(1 - \sigma(x))`.

        Computed in two branches so that ``exp`` never overflows (chapter 1,
        :eq:`eq-sigmoid-stable`).
        """
        x = self.data
        e = math.exp(-abs(x))
        s = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)
        out = Value(s, _operands=(self,), _op="sigmoid")

        def _backward():  # d sigma / dx = sigma (1 - sigma)
            self.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        r"""The rectified linear unit :math:`\max(0, x)`; derivative :math:`[x > 0]` (0 at 0)."""
        x = self.data
        out = Value(max(0.0, x), _operands=(self,), _op="relu")

        def _backward():  # d relu / dx = 1 if x > 0 else 0
            self.grad += (1.0 if x > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    # -- reverse mode ---------------------------------------------------------

    def backward(self):
        r"""Fill ``.grad`` of every node in this graph with :math:`\partial\,\text{self} / \partial\,\text{node}`.

        The rule for calling it more than once: **each call starts from
        scratch within its own graph.** It first sets ``grad = 0`` on every
        node this output depends on (itself included), then seeds
        :math:`\bar{\text{self}} = 1`, then visits the nodes in reverse
        topological order (every node after all the nodes that use it), each
        adding its contribution to its operands' ``grad`` (chapter 5,
        :eq:`eq-bp-chain-rule-graph`). So calling ``backward()`` twice gives
        the same gradients as calling it once, never double; and after
        ``y.backward()`` the ``grad`` of every node ``y`` depends on is the
        gradient of ``y`` only, whatever was called before. Nodes outside
        this graph are not touched: they keep the ``grad`` of an earlier call.
        A node used in several places (``a * a``, or one input feeding two
        branches) receives the *sum* of the contributions along every path.

        ``jax.grad`` returns fresh gradients each call, 0 for every input the
        output does not use; PyTorch instead *accumulates* into ``.grad``
        across ``backward`` calls, which is why training loops there call
        ``optimizer.zero_grad()``.
        """
        order = self._topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def _topological_order(self):
        """Every node this one depends on, each after its operands (iterative DFS)."""
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, operands_done = stack.pop()
            if operands_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            for operand in node._operands:
                if operand not in visited:
                    stack.append((operand, False))
        return order


def _as_value(other, op):
    """``other`` as a Value (a number is wrapped), or ``TypeError``."""
    if isinstance(other, Value):
        return other
    if isinstance(other, bool) or not isinstance(other, numbers.Real):
        raise TypeError(
            f"Value {op} {type(other).__name__}: the other operand must be a Value or a "
            f"real number, got {other!r}"
        )
    return Value(other)
