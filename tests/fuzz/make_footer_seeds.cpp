// Writes the crafted-footer seeds: for each case below, its plan (the input
// fuzz_footer reads) to DIR/plans/NAME and the trace file it makes to
// DIR/traces/NAME.vtrace (seeds for fuzz_model and fuzz_reader).
//   make_footer_seeds tests/fuzz/corpus_footer
// The files are small (< 1 KB each) and committed; rerun this after a change
// to footer_plan.h or to the format, since a plan's meaning follows the code.
#include "footer_plan.h"

#include <cstdio>
#include <string>
#include <sys/stat.h>

namespace {

using namespace vramscope;
using namespace vramscope::testing;
using format::RecordType;

PlanValue raw(uint64_t v) { return {PlanValue::Raw, v}; }
PlanValue plus(uint64_t k) { return {PlanValue::Plus, k - 1}; }   // truth + k (k in 1..4)
PlanValue minus(uint64_t k) { return {PlanValue::Minus, k - 1}; } // truth − k
PlanValue nearMax() { return {PlanValue::NearMax, 0}; }
CountEdit setCount(RecordType t, PlanValue v) { return {CountEdit::Set, uint16_t(t), v}; }

struct Case {
    const char* name;
    FooterPlan plan;
    bool trace = false;  // also written as a .vtrace (kept to a few, as each is 0.5 KB)
};

std::vector<Case> cases() {
    std::vector<Case> out;
    auto add = [&](const char* name, auto edit, bool trace = false) {
        FooterPlan p;
        edit(p);
        out.push_back({name, p, trace});
    };
    add("intact", [](FooterPlan&) {});
    // The 400-byte file whose footer claimed 2^64 − 1 tensor records.
    add("huge-count", [](FooterPlan& p) {
        p.countEdits = {setCount(RecordType::TensorMemory, nearMax())};
        p.totalMode = FooterPlan::TotalValue;
        p.total = nearMax();
    }, true);
    add("billion-counts-summed", [](FooterPlan& p) {
        p.countEdits = {{CountEdit::SetAll, 0, raw(1000000000ull)}};
        p.totalMode = FooterPlan::SumOfCounts;
    });
    // 2^64 − 1 + (kernels + 1) wraps to the true total.
    add("counts-wrap-to-total", [](FooterPlan& p) {
        p.countEdits = {setCount(RecordType::TensorMemory, nearMax()), setCount(RecordType::Kernel, plus(1))};
    }, true);
    // The right total split wrongly between types: only decoding can tell.
    add("right-total-wrong-types", [](FooterPlan& p) {
        p.countEdits = {setCount(RecordType::TensorMemory, plus(2)), setCount(RecordType::Kernel, minus(2))};
    }, true);
    add("count-of-unknown-type", [](FooterPlan& p) {
        p.countEdits = {setCount(RecordType(200), raw(5)), setCount(RecordType::Kernel, minus(4))};
        p.totalMode = FooterPlan::SumOfCounts;
    });
    add("type-past-255", [](FooterPlan& p) { p.countEdits = {{CountEdit::AppendRaw, 300, raw(1)}}; });
    // The file lacks a chunk its footer lists.
    add("index-lists-missing-chunk", [](FooterPlan& p) {
        p.body = FooterPlan::DropChunk;
        p.bodyArg = 1;
    }, true);
    add("index-misses-a-chunk", [](FooterPlan& p) { p.indexEdits = {{IndexEdit::Erase, 1}}; });
    add("index-chunks-swapped", [](FooterPlan& p) { p.indexEdits = {{IndexEdit::Swap, 0}}; });
    add("index-event-count-max", [](FooterPlan& p) {
        p.indexEdits = {{IndexEdit::SetField, 2, 3, 0, nearMax()}};
        p.totalMode = FooterPlan::TotalValue;
        p.total = raw(0xffffffffull + 13);
    });
    add("index-offset-past-end", [](FooterPlan& p) { p.indexEdits = {{IndexEdit::SetField, 0, 0, 0, raw(1ull << 40)}}; });
    // Thousands of index entries in a few hundred compressed bytes: within
    // kMaxRecordsPerCompressedByte, and beyond it.
    add("index-bomb-4k", [](FooterPlan& p) { p.indexEdits = {{IndexEdit::Repeat, 0, 0, repeatFor(4000)}}; }, true);
    add("index-bomb-16k", [](FooterPlan& p) { p.indexEdits = {{IndexEdit::Repeat, 0, 0, repeatFor(16384)}}; });
    add("index-bomb-32k", [](FooterPlan& p) { p.indexEdits = std::vector<IndexEdit>(2, {IndexEdit::Repeat, 0, 0, repeatFor(16384)}); }, true);
    add("index-claims-more-entries", [](FooterPlan& p) {
        p.payload = FooterPlan::EntryCountPlus;
        p.payloadArg = 200;
    });
    add("footer-payload-garbage", [](FooterPlan& p) {
        p.payload = FooterPlan::Garbage;
        p.payloadArg = 7;
    });
    add("span-and-dropped-max", [](FooterPlan& p) {
        p.dropped = nearMax();
        p.firstNs = nearMax();
        p.lastNs = {PlanValue::Zero, 0};
    });
    add("trailer-points-at-start", [](FooterPlan& p) {
        p.trailer = FooterPlan::OffsetValue;
        p.trailerOffset = {PlanValue::Zero, 0};
    });
    add("trailer-points-past-end", [](FooterPlan& p) {
        p.trailer = FooterPlan::OffsetValue;
        p.trailerOffset = nearMax();
    }, true);
    add("footer-mid-file", [](FooterPlan& p) {
        p.placement = FooterPlan::BeforeChunk;
        p.placementArg = 1;
    });
    add("two-footers-second-lies", [](FooterPlan& p) {
        p.placement = FooterPlan::TrueThenCrafted;
        p.countEdits = {setCount(RecordType::TensorMemory, nearMax())};
    }, true);
    add("footer-claims-events", [](FooterPlan& p) { p.footerHeaderEvents = raw(0xffffffffull); });
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_footer_seeds DIR (e.g. tests/fuzz/corpus_footer)\n");
        return 2;
    }
    const std::string dir = argv[1];
    const BaseTrace base = makeBaseTrace();
    if (base.bytes.empty()) {
        std::fprintf(stderr, "make_footer_seeds: could not write the base trace\n");
        return 1;
    }
    for (const char* sub : {"", "/plans", "/traces"}) mkdir((dir + sub).c_str(), 0755);
    for (const Case& c : cases()) {
        const std::string plan = dir + "/plans/" + c.name, trace = dir + "/traces/" + c.name + ".vtrace";
        if (encodeFooter(plannedFooter(base, c.plan)) != footerPayload(plannedFooter(base, c.plan))) {
            std::fprintf(stderr, "make_footer_seeds: encodeFooter and footerPayload differ on %s\n", c.name);
            return 1;
        }
        const std::vector<uint8_t> encoded = writePlan(c.plan);
        if (plannedTrace(base, readPlan(encoded.data(), encoded.size())) != plannedTrace(base, c.plan)) {
            std::fprintf(stderr, "make_footer_seeds: %s does not read back as written\n", c.name);
            return 1;
        }
        if (!writeBytes(plan, encoded) || (c.trace && !writeBytes(trace, plannedTrace(base, c.plan)))) {
            std::fprintf(stderr, "make_footer_seeds: cannot write %s\n", plan.c_str());
            return 1;
        }
    }
    return 0;
}
