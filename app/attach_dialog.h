// File ▸ Attach to Process…: the user's processes that use a GPU (name,
// command line, GPU memory where NVML says), and what to capture.
#pragma once

#include "attach_controller.h"

#include <QDialog>

class QCheckBox;
class QLabel;
class QPushButton;
class QTableWidget;

namespace vramscope::app {

class AttachDialog : public QDialog {
    Q_OBJECT
public:
    explicit AttachDialog(QWidget* parent = nullptr);
    // What the user chose (pid 0 when nothing is selected).
    AttachController::Options options() const;
    // Re-reads the process list (also on the Refresh button).
    void refresh();
    QTableWidget* table() const { return table_; }

private:
    QTableWidget* table_ = nullptr;
    QCheckBox* stacks_ = nullptr;
    QCheckBox* counters_ = nullptr;
    QLabel* empty_ = nullptr;
    QPushButton* attach_ = nullptr;
};

}  // namespace vramscope::app
