// Qt item models behind the docks. They adapt model/analysis results for
// QTableViews and hold no logic of their own beyond formatting and sorting
// (sort keys are numbers under Qt::UserRole).
#pragma once

#include "trace_document.h"

#include <QAbstractTableModel>

#include <memory>

namespace vramscope::app {

inline constexpr int kSortRole = Qt::UserRole;

// Two columns: what, value. Rows are set as a whole.
class KeyValueModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    struct Row {
        QString key, value;
        QString tip;
    };
    void setRows(std::vector<Row> rows);
    const std::vector<Row>& rows() const { return rows_; }
    QString valueOf(const QString& key) const;

    int rowCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : int(rows_.size()); }
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : 2; }
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<Row> rows_;
};

// The blocks live at one instant: size, age, address, callsite.
class LiveSetModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    enum Column { Size, Category, Age, Address, Kind, Callsite, ColumnCount };
    void setTime(std::shared_ptr<const TraceDocument> doc, uint64_t timeNs);
    uint64_t timeNs() const { return timeNs_; }
    uint64_t totalBytes() const { return totalBytes_; }

    int rowCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : int(blocks_.size()); }
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : ColumnCount; }
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::shared_ptr<const TraceDocument> doc_;
    std::vector<uint32_t> blocks_;
    uint64_t timeNs_ = 0, totalBytes_ = 0;
};

// Kernels grouped by name: launches, total and mean time, share of GPU time.
class KernelTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    enum Column { Name, Class, Launches, TotalTime, MeanTime, Share, ColumnCount };
    struct Row {
        QString name;
        uint64_t launches = 0, totalNs = 0;
        QString boundClass;  // compute / bandwidth / latency (+ "estimated" without counters)
        QString classTip;    // the fitted counters behind the class
        QString nameTip;     // the name at tooltip length (name: at cell length)
    };
    void setDocument(std::shared_ptr<const TraceDocument> doc);
    const std::vector<Row>& rows() const { return rows_; }

    int rowCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : int(rows_.size()); }
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : ColumnCount; }
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<Row> rows_;
    uint64_t allNs_ = 0;
};

}  // namespace vramscope::app
