#include "attach_dialog.h"

#include "format/units.h"
#include "gpu_processes.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace vramscope::app {

AttachDialog::AttachDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Attach to Process"));
    auto* layout = new QVBoxLayout(this);
    auto* intro = new QLabel(tr("Your processes that use a GPU. vramscope loads its capture into the one you pick and "
                                "shows it live; the job runs on untouched, and detaching (or closing the window) "
                                "leaves it as it was."),
                             this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    table_ = new QTableWidget(0, 4, this);
    table_->setHorizontalHeaderLabels({tr("PID"), tr("Name"), tr("GPU memory"), tr("Command line")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(table_);
    empty_ = new QLabel(tr("No process of yours has the CUDA driver loaded. Start the training job, let it reach the "
                           "GPU, then Refresh."),
                        this);
    empty_->setWordWrap(true);
    layout->addWidget(empty_);
    stacks_ = new QCheckBox(tr("Python file:line of every tensor allocation (PyTorch; costs a few % of a step)"), this);
    counters_ = new QCheckBox(tr("Hardware counters: compute- or bandwidth-bound (PM sampling)"), this);
    layout->addWidget(stacks_);
    layout->addWidget(counters_);
    auto* buttons = new QDialogButtonBox(this);
    attach_ = buttons->addButton(tr("Attach"), QDialogButtonBox::AcceptRole);
    auto* refreshButton = buttons->addButton(tr("Refresh"), QDialogButtonBox::ActionRole);
    buttons->addButton(QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(refreshButton, &QPushButton::clicked, this, &AttachDialog::refresh);
    connect(table_, &QTableWidget::itemSelectionChanged, this,
            [this] { attach_->setEnabled(!table_->selectedItems().isEmpty()); });
    connect(table_, &QTableWidget::cellDoubleClicked, this, &QDialog::accept);
    layout->addWidget(buttons);
    resize(900, 420);
    refresh();
}

void AttachDialog::refresh() {
    const std::vector<GpuProcess> processes = listGpuProcesses();
    table_->setRowCount(int(processes.size()));
    for (int row = 0; row < int(processes.size()); ++row) {
        const GpuProcess& p = processes[size_t(row)];
        auto* pid = new QTableWidgetItem(QString::number(p.pid));
        pid->setData(Qt::UserRole, p.pid);
        table_->setItem(row, 0, pid);
        table_->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(p.name)));
        table_->setItem(row, 2, new QTableWidgetItem(p.gpuMemoryBytes >= 0
                                                         ? QString::fromStdString(vramscope::formatBytes(double(p.gpuMemoryBytes)))
                                                         : QStringLiteral("—")));
        table_->setItem(row, 3, new QTableWidgetItem(QString::fromStdString(p.commandLine)));
    }
    table_->resizeColumnsToContents();
    empty_->setVisible(processes.empty());
    if (!processes.empty()) table_->selectRow(0);
    attach_->setEnabled(!processes.empty());
}

AttachController::Options AttachDialog::options() const {
    AttachController::Options o;
    const auto selected = table_->selectedItems();
    if (!selected.isEmpty()) o.pid = table_->item(selected.first()->row(), 0)->data(Qt::UserRole).toInt();
    o.pythonStacks = stacks_->isChecked();
    o.counters = counters_->isChecked();
    return o;
}

}  // namespace vramscope::app
