// libFuzzer target: a small well-formed trace under a footer that says
// whatever the input wants (footer_plan.h): chunk index entries missing,
// moved, repeated thousands of times; counts per type of 2^64 − 1 or that
// wrap around to the total; totals, dropped count and time span of any
// value; the footer mid-file, twice, damaged; the trailer pointing
// elsewhere, cut or followed by bytes. The reader, loadTrace, loadModel, the
// summary and the live stream reader must all survive it, and keep the
// reader's promises:
//   - a footer that disagrees with what the chunks hold (counts per type,
//     total, index) is named by a FooterMismatch problem whenever the chunks
//     themselves are intact, and such a file never reads as "complete";
//   - a footer that agrees is never reported as mismatched;
//   - a file that ends in its whole trailer was not cut off, even when its
//     footer is damaged;
//   - its counts size nothing beyond what the file's size can back
//     (footerCountHint), so memory stays bounded (-malloc_limit_mb in CI).
// Built by the `fuzz` preset (clang); CI runs it for a bounded time.
#include "footer_plan.h"

#include "analysis/summary.h"
#include "format/chunk_stream.h"
#include "model/model_builder.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

using namespace vramscope;
using namespace vramscope::format;

const testing::BaseTrace& base() {
    static const testing::BaseTrace trace = testing::makeBaseTrace();
    return trace;
}

[[noreturn]] void fail(const char* promise, const std::vector<TraceProblem>& problems) {
    std::fprintf(stderr, "fuzz_footer: %s\n", promise);
    for (const auto& p : problems) std::fprintf(stderr, "  problem %d: %s\n", int(p.kind), p.message.c_str());
    std::abort();
}

bool has(const std::vector<TraceProblem>& problems, TraceProblem::Kind kind) {
    return std::any_of(problems.begin(), problems.end(), [&](const TraceProblem& p) { return p.kind == kind; });
}

// What the footer says against what the scan and the decoding found.
bool footerDisagrees(const TraceReader& reader, const TraceContents& contents) {
    const FooterInfo& f = reader.footer();
    if (f.totalEvents != contents.events || f.chunks.size() != reader.chunks().size()) return true;
    for (int t = 0; t < 256; ++t)
        if (f.countsByType[t] != contents.countsByType[t]) return true;
    for (size_t i = 0; i < f.chunks.size(); ++i) {
        const ChunkIndexEntry &a = f.chunks[i], &b = reader.chunks()[i];
        if (a.offset != b.offset || a.compressedBytes != b.compressedBytes || a.rawBytes != b.rawBytes ||
            a.eventCount != b.eventCount)
            return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (base().bytes.empty()) {
        std::fprintf(stderr, "fuzz_footer: could not write the base trace\n");
        std::abort();
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const testing::FooterPlan plan = testing::readPlan(data, size);
    const std::vector<uint8_t> bytes = testing::plannedTrace(base(), plan);

    TraceReader reader;
    std::string error;
    if (!reader.openMemory(bytes, &error)) fail("the file header is intact, yet the trace did not open", {});
    const FooterInfo& footer = reader.footer();
    for (int t = 0; t < 256; ++t) {
        const uint64_t hint = reader.footerCountHint(static_cast<RecordType>(t));
        if (hint > bytes.size() || (hint && !footer.matchesChunks))
            fail("footerCountHint exceeds the file or trusts a footer that does not match", reader.problems());
    }

    // Nothing was cut from a file that ends in its whole trailer after the
    // (last) footer, whatever that footer says or however damaged it is.
    const bool endsWhole = plan.trailer % testing::FooterPlan::TrailerCount != testing::FooterPlan::NoTrailer &&
                           plan.trailer % testing::FooterPlan::TrailerCount != testing::FooterPlan::CutTrailer &&
                           plan.placement % testing::FooterPlan::PlacementCount != testing::FooterPlan::CraftedThenTrue;
    if (endsWhole && (reader.bytesLost() || has(reader.problems(), TraceProblem::Kind::Truncated)))
        fail("a file that was not cut reports bytes lost", reader.problems());

    TraceContents contents;
    LoadOptions options;
    options.threads = 1;
    if (!loadTrace(reader, contents, options, &error)) fail("loadTrace failed without being cancelled", {});
    const bool scanIntact = !has(reader.problems(), TraceProblem::Kind::CorruptHeader) &&
                            !has(reader.problems(), TraceProblem::Kind::Truncated) &&
                            !has(reader.problems(), TraceProblem::Kind::CorruptChunk);
    const bool chunksIntact = scanIntact && contents.chunksDropped == 0;
    const bool disagrees = footer.present && footerDisagrees(reader, contents);
    const bool mismatch = has(contents.problems, TraceProblem::Kind::FooterMismatch);
    // `vramscope info`'s "complete": not truncated, nothing corrupt, no problem at all.
    const bool complete = !reader.truncated() && contents.chunksDropped == 0 && contents.problems.empty();
    if (disagrees && chunksIntact && !mismatch) fail("a footer that disagrees with intact chunks was not reported", contents.problems);
    if (disagrees && complete) fail("a trace whose footer disagrees reads as complete", contents.problems);
    if (footer.present && !disagrees && chunksIntact && mismatch)
        fail("a footer that agrees with the chunks was reported as mismatched", contents.problems);

    model::TraceModel m;
    if (!model::loadModel(reader, m, options, &error)) fail("loadModel failed without being cancelled", {});
    if (m.events != contents.events) fail("loadModel and loadTrace decoded different event counts", m.problems);
    if (disagrees && chunksIntact && !has(m.problems, TraceProblem::Kind::FooterMismatch))
        fail("the model does not carry the footer mismatch", m.problems);
    if (mismatch != has(m.problems, TraceProblem::Kind::FooterMismatch))
        fail("loadTrace and loadModel judge the footer differently", m.problems);
    (void)analysis::summarize(m);

    // The live stream reader reads the same footer as it arrives.
    ChunkStream stream("fuzz");
    stream.feed(bytes.data(), bytes.size());
    DecodedChunk chunk;
    uint64_t streamEvents = 0;
    for (ChunkStream::Next next; (next = stream.next()) == ChunkStream::Next::Events;)
        if (stream.decodeChunk(chunk, &error)) streamEvents += chunk.events;
    (void)stream.endOfInput();
    if (streamEvents > contents.events) fail("the stream decoded events the file reader did not find", contents.problems);
    return 0;
}
