#pragma once
/// \file
/// The public API of tensig: the truncated tensor algebra, its expression
/// templates, and signatures of paths.

#include "tensig/algebra/tensor.hpp"
#include "tensig/autodiff/backward.hpp"
#include "tensig/autodiff/dual.hpp"
#include "tensig/error.hpp"
#include "tensig/expr/evaluate.hpp"
#include "tensig/expr/nodes.hpp"
#include "tensig/inversion/init.hpp"
#include "tensig/inversion/invert.hpp"
#include "tensig/inversion/loss.hpp"
#include "tensig/inversion/metrics.hpp"
#include "tensig/inversion/optimizers.hpp"
#include "tensig/inversion/pendigits.hpp"
#include "tensig/inversion/tree_reduce.hpp"
#include "tensig/kernels/ops.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/parallel/invert_batch.hpp"
#include "tensig/parallel/parallel.hpp"
#include "tensig/paths/backward.hpp"
#include "tensig/paths/options.hpp"
#include "tensig/paths/signature.hpp"
#include "tensig/shape/shape.hpp"
