// vtrace_tensor_steps FILE [BOUNDS_US]: tensor-level events of a trace, to
// check them against PyTorch's own memory history of the same run
// (samples/pytorch/gpt_train.py --snapshot prints pytorch_* lines):
//   tensor.<action> N          TensorMemory records per action (+ oom)
//   phase.<kind> N             Phase markers per kind
//   marker_step<i>_alloc N     allocations between StepBegin and StepEnd
//   bound_step<i>_alloc N      allocations in [bound i, bound i+1) when
//                              BOUNDS_US (comma-separated wall-clock µs, as
//                              the sample prints) is given; CUPTI's clock is
//                              CLOCK_REALTIME-based on Linux, so they compare.
// Qt-free, for the GPU machines.
#include <format/reader.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

using namespace vramscope::format;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: vtrace_tensor_steps FILE [BOUNDS_US]\n");
        return 2;
    }
    TraceReader reader;
    std::string error;
    TraceContents t;
    if (!reader.open(argv[1], &error) || !loadTrace(reader, t, LoadOptions{}, &error)) {
        std::fprintf(stderr, "vtrace_tensor_steps: %s\n", error.c_str());
        return 1;
    }
    static const char* names[] = {"?", "alloc", "free_requested", "free_completed", "segment_alloc",
                                  "segment_free", "segment_map", "segment_unmap", "snapshot"};
    std::map<int, uint64_t> byAction;
    for (const auto& m : t.get<TensorMemory>()) ++byAction[int(m.action)];
    for (auto [a, n] : byAction) std::printf("tensor.%s %" PRIu64 "\n", a >= 1 && a <= 8 ? names[a] : "?", n);
    uint64_t ooms = 0;
    for (const auto& f : t.get<AllocFailure>()) ooms += f.source == FailureSource::Framework;
    std::printf("tensor.oom %" PRIu64 "\n", ooms);
    std::map<int, uint64_t> byPhase;
    for (const auto& p : t.get<Phase>()) ++byPhase[int(p.kind)];
    for (auto [k, n] : byPhase) std::printf("phase.%d %" PRIu64 "\n", k, n);

    auto allocsIn = [&](uint64_t beginNs, uint64_t endNs) {
        uint64_t n = 0;
        for (const auto& m : t.get<TensorMemory>())
            n += m.action == TensorAction::Alloc && m.timestampNs >= beginNs && m.timestampNs < endNs;
        return n;
    };
    uint64_t begin = 0;
    bool open = false;
    int step = 0;
    for (const auto& p : t.get<Phase>()) {
        if (p.kind == PhaseKind::StepBegin) { begin = p.timestampNs; open = true; }
        else if (p.kind == PhaseKind::StepEnd && open) {
            std::printf("marker_step%d_alloc %" PRIu64 "\n", step++, allocsIn(begin, p.timestampNs + 1));
            open = false;
        }
    }
    if (argc > 2) {
        std::vector<uint64_t> bounds;
        for (char* s = argv[2]; *s;) {
            char* end = nullptr;
            bounds.push_back(std::strtoull(s, &end, 10) * 1000ull);
            s = *end ? end + 1 : end;
        }
        for (size_t i = 0; i + 1 < bounds.size(); ++i)
            std::printf("bound_step%zu_alloc %" PRIu64 "\n", i, allocsIn(bounds[i], bounds[i + 1]));
    }
    return 0;
}
