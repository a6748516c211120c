#include "core/train/checkpointer.h"

#include <system_error>

#include "core/util/remove_tree.h"

namespace lathe {

Checkpointer::Checkpointer(RunStore& store, int64_t run_id, int64_t save_total_limit, bool writes)
    : store_(store), run_id_(run_id), save_total_limit_(save_total_limit), writes_(writes) {
    for (const auto& ck : store_.checkpoints(run_id_)) kept_.push_back(ck.path);
}

std::optional<std::string> Checkpointer::save(int64_t step, const std::function<std::string()>& write) {
    last_step_ = step;
    if (!writes_) return std::nullopt;
    std::string path = write();
    store_.add_checkpoint(run_id_, {step, path, 0});
    kept_.push_back(path);
    while (save_total_limit_ > 0 && static_cast<int64_t>(kept_.size()) > save_total_limit_) {
        std::error_code ec;  // a folder someone already deleted is no reason to fail the run
        remove_tree(kept_.front(), ec);
        store_.remove_checkpoint(run_id_, kept_.front());
        kept_.erase(kept_.begin());
    }
    return path;
}

}  // namespace lathe
