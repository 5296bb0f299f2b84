#include "csv_export.h"

#include "chrome_trace.h"

#include "format/utf8.h"

#include <cstdio>
#include <string>
#include <string_view>

namespace vramscope::exporting {

using model::TraceModel;

namespace {

// RFC 4180: quote fields holding commas, quotes or line breaks. CSV has no
// escapes, and spreadsheet and pandas readers stop at a NUL or choke on bytes
// that are not UTF-8: control characters other than tab and line breaks, and
// bytes that start no well-formed UTF-8 sequence, become U+FFFD. Like the
// Chrome export, a field keeps at most kMaxExportedTextBytes, then "…".
// A name that starts like a formula (=, +, -, @) gets a leading ' so that a
// spreadsheet shows it as text instead of evaluating what the traced
// program chose to call a kernel (=HYPERLINK(...), =cmd|...).
std::string csvField(std::string_view s) {
    const bool cut = s.size() > kMaxExportedTextBytes;
    if (cut) s = s.substr(0, format::utf8PrefixBytes(s, kMaxExportedTextBytes));
    std::string text;
    text.reserve(s.size() + 1);
    if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) text += '\'';
    bool quote = false;
    for (size_t i = 0; i < s.size();) {
        const size_t n = format::utf8SequenceAt(s, i);
        const auto c = static_cast<unsigned char>(s[i]);
        if (n == 0 || (n == 1 && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F))) {
            text += "\xEF\xBF\xBD";  // U+FFFD
            i += n ? n : 1;
            continue;
        }
        if (c == ',' || c == '"' || c == '\n' || c == '\r') quote = true;
        if (c == '"') text += '"';
        text.append(s.substr(i, n));
        i += n;
    }
    if (cut) text += "\xE2\x80\xA6";  // …
    return quote ? '"' + text + '"' : text;
}

void writeRows(const TraceModel& m, const model::BlockColumns& b, const char* level,
               const analysis::Categorization* categories, std::ostream& out) {
    char address[24];
    for (size_t i = 0; i < b.size(); ++i) {
        std::snprintf(address, sizeof address, "0x%llx", static_cast<unsigned long long>(b.address[i]));
        out << level << ',' << b.allocNs[i] << ',';
        if (b.freeNs[i] != model::kNeverNs) out << b.freeNs[i];
        out << ',' << b.bytes[i] << ',' << address << ',' << analysis::memoryKindText(b.memoryKind[i]) << ','
            << csvField(m.callsiteText(b.callsiteId[i])) << ',';
        if (categories && i < categories->category.size()) {
            // Host memory is in no device category: the column stays empty.
            if (!analysis::isHostMemory(b.memoryKind[i])) out << analysis::categoryName(categories->category[i]);
            out << ',';
            if (categories->iteration[i] >= 0) out << categories->iteration[i];
            out << ',';
            if (categories->phase[i] >= 0) out << analysis::phaseNameText(static_cast<analysis::PhaseName>(categories->phase[i]));
        } else {
            out << ",,";
        }
        out << '\n';
    }
}

}  // namespace

bool writeAllocationsCsv(const TraceModel& m, const analysis::Categorization* categories, std::ostream& out) {
    out << "level,alloc_ns,free_ns,bytes,address,memory_kind,callsite,category,iteration,phase\n";
    if (m.allocationLevel == model::AllocationLevel::Tensor) {
        writeRows(m, m.blocks, "tensor", categories, out);
        writeRows(m, m.driverBlocks, "driver", nullptr, out);
    } else {
        // Driver level: blocks and driverBlocks are the same allocations.
        writeRows(m, m.driverBlocks, "driver", categories, out);
    }
    out.flush();
    return static_cast<bool>(out);
}

bool writeKernelsCsv(const std::vector<analysis::KernelStats>& kernels, const analysis::KernelBoundness& bounds,
                     std::ostream& out) {
    out << "name,count,total_ns,mean_ns,bound,bound_source,sm_pct,dram_pct,tensor_pct\n";
    char pct[32];
    const auto percent = [&pct](double v) -> const char* {
        if (v < 0) return "";
        std::snprintf(pct, sizeof pct, "%.2f", v);
        return pct;
    };
    for (const analysis::KernelStats& k : kernels) {
        const auto bound = bounds.byName.find(k.nameId);
        out << csvField(k.name) << ',' << k.count << ',' << k.totalNs << ',' << (k.count ? k.totalNs / k.count : 0) << ','
            << (bound == bounds.byName.end() ? "unknown" : analysis::boundText(bound->second)) << ','
            << (bounds.classedByCounters.count(k.nameId) ? "counters" : "name") << ',';
        const auto fitted = bounds.fitted(k.nameId);
        out << percent(fitted.sm) << ',';
        out << percent(fitted.dram) << ',';
        out << percent(fitted.tensor) << '\n';
    }
    out.flush();
    return static_cast<bool>(out);
}

}  // namespace vramscope::exporting
