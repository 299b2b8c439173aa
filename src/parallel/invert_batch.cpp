#include "tensig/parallel/invert_batch.hpp"

#include <exception>
#include <mutex>

#include <xtensor/xview.hpp>

#include "tensig/inversion/metrics.hpp"
#include "tensig/parallel/parallel.hpp"

namespace tensig {

std::vector<invert_item> invert_batch(const xt::xtensor<double, 2>& targets, std::size_t dim,
                                      std::size_t depth, const invert_batch_options& options,
                                      const xt::xtensor<double, 3>* references) {
    const std::size_t B = targets.shape()[0];
    if (references && references->shape()[0] != B)
        throw invalid_input("invert_batch: " + std::to_string(B) + " targets but " +
                            std::to_string(references->shape()[0]) + " reference paths");
    std::vector<invert_item> items(B);
    std::mutex progress_mutex;
    std::size_t done = 0;
    parallel::for_chunks(B, 1, options.threads, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            invert_item& item = items[i];
            if (options.cancel && options.cancel->load()) {
                item.error = "cancelled";
            } else {
                try {
                    invert_options o = options.invert;
                    o.seed = options.invert.seed + i;
                    o.adam.on_step = nullptr; // per-item callbacks would interleave across threads
                    const xt::xtensor<double, 1> target = xt::row(targets, i);
                    item.result = invert(target, dim, depth, o);
                    item.ok = true;
                    item.converged = item.result.exact;
                    if (!item.converged)
                        item.error = "did not converge (loss " + std::to_string(item.result.loss) + ")";
                    if (references) {
                        const xt::xtensor<double, 2> ref = xt::view(*references, i, xt::all(), xt::all());
                        const auto e = compare_paths(item.result.path, ref);
                        item.hausdorff = e.hausdorff;
                        if (e.same_count) item.max_point_error = e.max_point_error;
                    }
                } catch (const std::exception& e) {
                    item.ok = false;
                    item.error = e.what();
                }
            }
            if (options.progress) {
                std::lock_guard<std::mutex> lock(progress_mutex);
                options.progress(++done, B);
            }
        }
    });
    return items;
}

} // namespace tensig
