"""Which family (module of this package) defines each primitive and each function name of the language.

Generated from the tables by `python -m gradcli.engine.primitives.make_index`: don't edit. The primitives
themselves are defined only in their families' tables; this says where to find them without importing all.
"""

# the primitives each family defines
PRIMITIVES: dict[str, str] = {
    "elementwise": (
        "add sub mul div neg pow lt le gt ge eq ne exp expm1 log log1p log2 log10 log_base sqrt cbrt sin cos "
        "tan asin acos atan sinh cosh tanh asinh acosh atanh abs sign floor ceil round relu sigmoid softplus "
        "erf erfc gamma lgamma atan2 hypot min max logaddexp where clip xlogy mul0 digamma polygamma"
    ),
    "linalg": (
        "matmul dot matmul_grad_a matmul_grad_b inv solve det cofactor logdet trace diag outer tensordot "
        "tensordot_grad_a tensordot_grad_b kron kron_grad_a kron_grad_b convolve correlate"
    ),
    "reductions": (
        "sum mean prod norm logsumexp sum_axis mean_axis prod_axis norm_axis logsumexp_axis scan shift "
        "expand_axis amax amin softmax logsoftmax"
    ),
    "shape": "stack unbroadcast broadcast_like size_of index getitem scatter len",
    "arrays": "transpose reshape flatten concat rows cumsum rcumsum sort flip tril triu sort_like unsort",
    "special": "j0 j1 y0 y1 i0 i1 k0 k1 jv yv iv kv gammainc gammaincc betainc erfinv erfcinv mod fmod",
}

# the language's function names each family's primitives answer to
FUNCTIONS: dict[str, str] = {
    "elementwise": (
        "pow exp expm1 log log1p log2 log10 sqrt cbrt sin cos tan asin acos atan sinh cosh tanh asinh acosh "
        "atanh abs sign floor ceil round relu sigmoid softplus erf erfc gamma lgamma atan2 hypot min max "
        "logaddexp where clip digamma"
    ),
    "linalg": "dot inv solve det logdet trace diag outer tensordot kron convolve correlate",
    "reductions": "sum mean prod norm logsumexp amax amin softmax logsoftmax max min",
    "shape": "stack len",
    "arrays": "transpose reshape flatten concat cumsum sort flip tril triu",
    "special": (
        "besselj0 besselj1 bessely0 bessely1 besseli0 besseli1 besselk0 besselk1 besselj bessely besseli "
        "besselk gammainc gammaincc betainc erfinv erfcinv mod fmod"
    ),
}

# scipy's names of the Bessel functions (special.SYNTAX), for the language's call-only aliases
BESSEL_SYNTAX: dict[str, str] = {
    "j0": "besselj0",
    "j1": "besselj1",
    "y0": "bessely0",
    "y1": "bessely1",
    "i0": "besseli0",
    "i1": "besseli1",
    "k0": "besselk0",
    "k1": "besselk1",
    "jv": "besselj",
    "yv": "bessely",
    "iv": "besseli",
    "kv": "besselk",
}
