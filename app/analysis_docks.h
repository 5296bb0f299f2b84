// Docks that show analysis results: leaks, the memory estimator (what-if),
// and the comparison of two runs. Tables are Qt item models over the
// analysis structs; the widgets only display them.
#pragma once

#include "dock_models.h"
#include "trace_document.h"

#include "analysis/compare.h"

#include <QWidget>

class QLabel;
class QSlider;
class QSpinBox;

namespace vramscope::app {

// One row per leak group (same callsite, phase and size class).
class LeakTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    enum Column { Bytes, Blocks, SizeRange, FirstIteration, Phase, Callsite, ColumnCount };
    void setReport(const analysis::LeakReport* report);  // nullptr clears

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : ColumnCount; }
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<analysis::LeakGroup> groups_;
};

// Rows: what, run A, run B, change — the numbers `vramscope diff` prints.
// Times are each run's steady iterations; the headline says which were left
// out (warm-up) and, when a run checkpoints, what that saved and cost.
class DiffTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    struct Row {
        QString what;
        double a = 0, b = 0;
        bool bytes = true;      // bytes, else nanoseconds
        bool fraction = false;  // a share (0-1), shown in percent
        QString tip;
    };
    void setComparison(const analysis::Comparison* comparison);
    const std::vector<Row>& rows() const { return rows_; }
    // A row by its label, or null.
    const Row* row(const QString& what) const;
    // Sentences above the table (plain text, one per line).
    const QString& headline() const { return headline_; }

    int rowCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : int(rows_.size()); }
    int columnCount(const QModelIndex& parent = {}) const override { return parent.isValid() ? 0 : 4; }
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<Row> rows_;
    QString headline_;
};

// The napkin math, interactive: measured weights / gradients / optimizer
// state / activations, and the predicted peak for another batch size.
class EstimatorPanel : public QWidget {
    Q_OBJECT
public:
    explicit EstimatorPanel(QWidget* parent = nullptr);
    void setDocument(std::shared_ptr<const TraceDocument> doc);
    // The batch size the slider is at, and what the panel predicts for it.
    int targetBatch() const;
    void setTargetBatch(int batch);
    // Sequence length what-if; only when the trace's sequence length is known.
    int targetSequence() const;
    void setTargetSequence(int tokens);
    uint64_t predictedPeakBytes() const { return predictedPeakBytes_; }

private:
    void refresh();
    std::shared_ptr<const TraceDocument> doc_;
    QLabel* measured_ = nullptr;
    QLabel* prediction_ = nullptr;
    QSlider* slider_ = nullptr;
    QSpinBox* spin_ = nullptr;
    QSpinBox* sequence_ = nullptr;
    uint64_t predictedPeakBytes_ = 0;
};

// The Summary dock's rows for one trace: the same facts as `vramscope summary`.
std::vector<KeyValueModel::Row> summaryRows(const TraceDocument& doc);

}  // namespace vramscope::app
