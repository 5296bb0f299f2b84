#include "dock_models.h"

#include "display_text.h"
#include "format_text.h"

#include <QFont>

#include <algorithm>
#include <unordered_map>

namespace vramscope::app {

namespace {
QString bytesText(uint64_t b) { return QString::fromStdString(formatBytes(double(b))); }
QString durationText(double ns) { return QString::fromStdString(formatDuration(ns)); }

const char* memoryKindName(uint8_t kind) {
    switch (static_cast<format::MemoryKind>(kind)) {
    case format::MemoryKind::Device: return "device";
    case format::MemoryKind::Pool: return "pool";
    case format::MemoryKind::Vmm: return "VMM";
    case format::MemoryKind::Managed: return "managed";
    case format::MemoryKind::PinnedHost: return "pinned host";
    case format::MemoryKind::ModuleStatic: return "module static";
    case format::MemoryKind::Pageable: return "pageable";
    default: return "unknown";
    }
}
}  // namespace

// ---- KeyValueModel -----------------------------------------------------------

void KeyValueModel::setRows(std::vector<Row> rows) {
    // Values may hold a trace's own text (device names, notes): bounded, the
    // whole of a long one in the tooltip.
    for (Row& r : rows) {
        if (size_t(r.value.size()) > kCellTextBytes && r.tip.isEmpty()) r.tip = r.value;
        r.value = shownText(r.value);
        r.tip = shownText(r.tip, kTooltipTextBytes);
    }
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
}

QString KeyValueModel::valueOf(const QString& key) const {
    for (const auto& r : rows_)
        if (r.key == key) return r.value;
    return {};
}

QVariant KeyValueModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || size_t(index.row()) >= rows_.size()) return {};
    const Row& r = rows_[size_t(index.row())];
    if (role == Qt::DisplayRole) return index.column() == 0 ? r.key : r.value;
    if (role == Qt::ToolTipRole && !r.tip.isEmpty()) return r.tip;
    if (role == Qt::FontRole && index.column() == 0 && r.value.isEmpty()) {
        QFont f;
        f.setBold(true);
        return f;
    }
    return {};
}

QVariant KeyValueModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    return section == 0 ? QStringLiteral("What") : QStringLiteral("Value");
}

// ---- LiveSetModel ------------------------------------------------------------

void LiveSetModel::setTime(std::shared_ptr<const TraceDocument> doc, uint64_t timeNs) {
    beginResetModel();
    doc_ = std::move(doc);
    timeNs_ = timeNs;
    blocks_.clear();
    totalBytes_ = 0;
    if (doc_) {
        blocks_ = doc_->model.liveBlocksAt(timeNs);
        for (uint32_t b : blocks_) totalBytes_ += doc_->model.blocks.bytes[b];
    }
    endResetModel();
}

QVariant LiveSetModel::data(const QModelIndex& index, int role) const {
    if (!doc_ || !index.isValid() || size_t(index.row()) >= blocks_.size()) return {};
    const auto& m = doc_->model;
    const uint32_t b = blocks_[size_t(index.row())];
    const uint64_t age = timeNs_ - m.blocks.allocNs[b];
    const auto& categories = doc_->summary.categories.category;
    // Pinned host memory is in no category (not device memory): its kind says
    // what it is. Managed memory counts as device memory and is marked.
    QString category;
    if (analysis::isHostMemory(m.blocks.memoryKind[b])) category = QStringLiteral("host memory");
    else if (b < categories.size()) category = analysis::categoryName(categories[b]);
    if (m.blocks.memoryKind[b] == uint8_t(format::MemoryKind::Managed)) category += QStringLiteral(" (managed)");
    if (role == kSortRole) {
        switch (index.column()) {
        case Size: return qulonglong(m.blocks.bytes[b]);
        case Category: return category;
        case Age: return qulonglong(age);
        case Address: return qulonglong(m.blocks.address[b]);
        case Kind: return QString(memoryKindName(m.blocks.memoryKind[b]));
        case Callsite: return shownText(m.callsiteText(m.blocks.callsiteId[b]));
        }
    }
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Size: return bytesText(m.blocks.bytes[b]);
        case Category: return category;
        case Age: return durationText(double(age));
        case Address: return QString("0x%1").arg(m.blocks.address[b], 0, 16);
        case Kind: return QString(memoryKindName(m.blocks.memoryKind[b]));
        case Callsite: {
            std::string s = m.callsiteText(m.blocks.callsiteId[b]);
            return s.empty() ? QStringLiteral("(unknown)") : shownText(s);
        }
        }
    }
    if (role == Qt::ToolTipRole && index.column() == Callsite) {
        // The whole Python stack, innermost first (traces made with --python-stacks).
        QStringList frames;
        for (const std::string& f : m.callsiteStack(m.blocks.callsiteId[b])) frames << shownText(f);
        return frames.isEmpty() ? QVariant() : QVariant(frames.join('\n'));
    }
    if (role == Qt::TextAlignmentRole && (index.column() == Size || index.column() == Age))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant LiveSetModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"Size", "Category", "Age", "Address", "Kind", "Callsite"};
    return section < ColumnCount ? QString(names[section]) : QVariant();
}

// ---- KernelTableModel --------------------------------------------------------

void KernelTableModel::setDocument(std::shared_ptr<const TraceDocument> doc) {
    beginResetModel();
    rows_.clear();
    allNs_ = 0;
    if (doc) {
        const auto& k = doc->model.kernels;
        std::unordered_map<uint32_t, size_t> byName;
        for (size_t i = 0; i < k.size(); ++i) {
            auto [it, added] = byName.try_emplace(k.nameId[i], rows_.size());
            if (added) {
                auto b = doc->summary.kernelBounds.byName.find(k.nameId[i]);
                QString cls = b == doc->summary.kernelBounds.byName.end() ? QString("unknown") : QString(analysis::boundText(b->second));
                const auto& kb = doc->summary.kernelBounds;
                if (!kb.fromCounters) cls += " (estimated)";
                QString tip = kb.fromCounters ? QString("estimated from the kernel's name: no counter sample covered it")
                                              : QString("estimated from the kernel's name: no hardware counters in this trace");
                if (auto c = kb.smAndDramPct.find(k.nameId[i]); c != kb.smAndDramPct.end()) {
                    tip = QString("SM %1 %, DRAM %2 %").arg(c->second.first, 0, 'f', 1).arg(c->second.second, 0, 'f', 1);
                    if (auto t = kb.tensorPct.find(k.nameId[i]); t != kb.tensorPct.end())
                        tip += QString(", tensor pipes %1 %").arg(t->second, 0, 'f', 1);
                    tip += " of peak, fitted to the counter samples across all its launches";
                    if (!kb.classedByCounters.count(k.nameId[i]))
                        tip += "; the class comes from its name: it ran for less than one sample in all";
                }
                const std::string& name = doc->model.text(k.nameId[i]);
                rows_.push_back({shownText(name), 0, 0, cls, tip, shownText(name, kTooltipTextBytes)});
            }
            rows_[it->second].launches++;
            rows_[it->second].totalNs += k.durationNs[i];
            allNs_ += k.durationNs[i];
        }
        std::sort(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) { return a.totalNs > b.totalNs; });
    }
    endResetModel();
}

QVariant KernelTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || size_t(index.row()) >= rows_.size()) return {};
    const Row& r = rows_[size_t(index.row())];
    const double share = allNs_ ? 100.0 * double(r.totalNs) / double(allNs_) : 0.0;
    if (role == kSortRole) {
        switch (index.column()) {
        case Name: return r.name;
        case Class: return r.boundClass;
        case Launches: return qulonglong(r.launches);
        case TotalTime: return qulonglong(r.totalNs);
        case MeanTime: return r.launches ? double(r.totalNs) / double(r.launches) : 0.0;
        case Share: return share;
        }
    }
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name: return r.name;
        case Class: return r.boundClass;
        case Launches: return qulonglong(r.launches);
        case TotalTime: return durationText(double(r.totalNs));
        case MeanTime: return durationText(r.launches ? double(r.totalNs) / double(r.launches) : 0.0);
        case Share: return QString::number(share, 'f', 1) + " %";
        }
    }
    if (role == Qt::ToolTipRole && index.column() == Name) return r.nameTip;
    if (role == Qt::ToolTipRole && index.column() == Class) return r.classTip;
    if (role == Qt::TextAlignmentRole && index.column() != Name && index.column() != Class) return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant KernelTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"Kernel", "Limited by", "Launches", "Total", "Mean", "Share of GPU time"};
    return section < ColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace vramscope::app
