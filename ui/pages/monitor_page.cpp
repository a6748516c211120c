#include "ui/pages/monitor_page.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <exception>

#include "core/runs/run_reader.h"

namespace {

const QColor kLossColor(31, 119, 180), kEvalColor(214, 39, 40), kCheckpointColor(44, 160, 44);

// A chart that zooms (wheel) and pans (drag) along x, drawn in the window's palette (light or dark).
QCustomPlot* makePlot(const QString& title, const QString& yLabel, QWidget* parent) {
    auto* plot = new QCustomPlot(parent);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    plot->axisRect()->setRangeZoom(Qt::Horizontal);
    const QPalette pal = parent->palette();
    const QColor fg = pal.color(QPalette::WindowText), bg = pal.color(QPalette::Base);
    plot->setBackground(bg);
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        axis->setBasePen(QPen(fg));
        axis->setTickPen(QPen(fg));
        axis->setSubTickPen(QPen(fg));
        axis->setTickLabelColor(fg);
        axis->setLabelColor(fg);
        axis->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
    }
    plot->xAxis->setLabel(QObject::tr("step"));
    plot->yAxis->setLabel(yLabel);
    plot->plotLayout()->insertRow(0);
    auto* heading = new QCPTextElement(plot, title, QFont(parent->font().family(), parent->font().pointSize(), QFont::Bold));
    heading->setTextColor(fg);
    plot->plotLayout()->addElement(0, 0, heading);
    plot->setMinimumHeight(120);
    return plot;
}

void setPlotTitle(QCustomPlot* plot, const QString& title) {
    if (auto* heading = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0))) heading->setText(title);
}

// Moves `plot`'s legend from inside the axis rect to a row under it, its entries side by side and wrapped
// to the plot's width: score curves end high or low at the right, where a corner legend covers them,
// and with several tasks every corner holds a curve. The x axis keeps the width of the charts above it.
void placeLegendBelow(QCustomPlot* plot) {
    QCPLegend* legend = plot->legend;
    plot->axisRect()->insetLayout()->take(legend);
    plot->plotLayout()->addElement(plot->plotLayout()->rowCount(), 0, legend);
    plot->plotLayout()->setRowStretchFactor(plot->plotLayout()->rowCount() - 1, 0.001);  // only the height it needs
    plot->plotLayout()->setRowSpacing(0);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setMargins(QMargins(6, 0, 6, 4));
    legend->setColumnSpacing(16);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    // As many entries to a row as fit, recounted before each replot (a resize replots; new curves add entries).
    QObject::connect(plot, &QCustomPlot::beforeReplot, legend, [plot, legend] {
        // itemCount() counts the grid's cells, the empty ones after the last entry too (item() is null there).
        const int n = legend->itemCount(), room = plot->width() - legend->margins().left() - legend->margins().right();
        int columns = std::max(1, n);
        for (; columns > 1; --columns) {  // the most columns whose widest entries fit side by side
            int width = (columns - 1) * legend->columnSpacing();
            for (int c = 0; c < columns; ++c) {
                int widest = 0;
                for (int i = c; i < n; i += columns)
                    if (QCPAbstractLegendItem* item = legend->item(i)) widest = std::max(widest, item->minimumOuterSizeHint().width());
                width += widest;
            }
            if (width <= room) break;
        }
        if (columns != legend->wrap()) {
            legend->setWrap(columns);
            legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);  // re-places the entries for the new wrap
        }
    });
}

QCPGraph* addLine(QCustomPlot* plot, const QColor& color, double width, const QString& name) {
    QCPGraph* g = plot->addGraph();
    g->setPen(QPen(color, width));
    g->setName(name);
    // Long series (100k steps) are drawn decimated: QCustomPlot keeps the extremes of each pixel column.
    g->setAdaptiveSampling(true);
    return g;
}

// A whole series smoothed (DebiasedAverage); `average` ends in the state after its last point.
QVector<double> smooth(const QVector<double>& values, double weight, DebiasedAverage& average) {
    average = {};
    QVector<double> out;
    out.reserve(values.size());
    for (double v : values) out.push_back(average.add(v, weight));
    return out;
}

QString duration(double seconds) {
    if (!(seconds >= 0) || std::isinf(seconds)) return "—";
    qint64 s = static_cast<qint64>(seconds + 0.5);
    if (s < 60) return QString("%1 s").arg(s);
    if (s < 3600) return QString("%1 min %2 s").arg(s / 60).arg(s % 60);
    return QString("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

}  // namespace

MonitorPage::MonitorPage(const lathe::RunReader& runs, QWidget* parent) : QWidget(parent), session_(new TrainingSession(this)), runs_(runs) {
    title_ = new QLabel(tr("No run yet — configure one on the Train page and press Start."), this);
    QFont big = title_->font();
    big.setPointSizeF(big.pointSizeF() * 1.25);
    big.setBold(true);
    title_->setFont(big);
    status_ = new QLabel(this);
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(tr("step %v of %m"));
    eta_ = new QLabel(this);
    eta_->setMinimumWidth(200);
    stop_ = new QPushButton(tr("Stop"), this);
    stop_->setToolTip(tr("Save a checkpoint and end the run (Ctrl+.)"));
    stop_->setShortcut(QKeySequence("Ctrl+."));
    pause_ = new QPushButton(tr("Pause"), this);
    pause_->setToolTip(tr("Save a checkpoint and stop; Resume continues from it"));
    resume_ = new QPushButton(tr("Resume"), this);
    resume_->setToolTip(tr("Continue the run from its latest checkpoint"));
    stop_->setObjectName("stopButton");
    pause_->setObjectName("pauseButton");
    resume_->setObjectName("resumeButton");
    connect(stop_, &QPushButton::clicked, this, &MonitorPage::stopRun);
    connect(pause_, &QPushButton::clicked, this, &MonitorPage::pauseRun);
    connect(resume_, &QPushButton::clicked, this, [this] { resumeRun(run_id_); });

    failure_ = new QLabel(this);
    failure_->setWordWrap(true);
    failure_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    failure_->setStyleSheet("QLabel { background: #fdecea; color: #611a15; border: 1px solid #f5c2c7; border-radius: 4px; padding: 8px; }");
    failure_->hide();

    loss_plot_ = makePlot(tr("Loss"), tr("loss"), this);
    loss_raw_ = addLine(loss_plot_, kLossColor.lighter(160), 1, tr("train (raw)"));
    loss_smooth_ = addLine(loss_plot_, kLossColor, 2, tr("train (smoothed)"));
    eval_ = addLine(loss_plot_, kEvalColor, 2, tr("validation"));
    eval_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kEvalColor, kEvalColor, 7));
    training_forecast_ = addForecastGraphs(kLossColor, tr("train forecast, 80% band"));
    validation_forecast_ = addForecastGraphs(kEvalColor, tr("validation forecast, 80% band"));
    checkpoints_ = loss_plot_->addGraph();
    checkpoints_->setName(tr("checkpoint"));
    checkpoints_->setLineStyle(QCPGraph::lsNone);
    checkpoints_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangleInverted, kCheckpointColor, kCheckpointColor, 11));
    loss_plot_->legend->setVisible(true);
    loss_plot_->legend->setBrush(QBrush(palette().color(QPalette::Base)));
    loss_plot_->legend->setTextColor(palette().color(QPalette::WindowText));
    loss_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    smoothing_ = new QSlider(Qt::Horizontal, this);
    smoothing_->setRange(0, 99);
    smoothing_->setValue(60);
    smoothing_->setToolTip(tr("Exponential moving average of the train loss"));
    smoothing_value_ = new QLabel(this);
    smoothing_value_->setMinimumWidth(40);
    connect(smoothing_, &QSlider::valueChanged, this, &MonitorPage::resmooth);
    compare_ = new QComboBox(this);
    compare_->setMinimumWidth(260);
    compare_->setToolTip(tr("Overlay an earlier run's loss curve"));
    connect(compare_, QOverload<int>::of(&QComboBox::activated), this, [this](int index) {
        qint64 id = compare_->itemData(index).toLongLong();
        if (id > 0) addOverlay(id);
        compare_->setCurrentIndex(0);
    });
    auto* clear = new QPushButton(tr("Clear comparison"), this);
    connect(clear, &QPushButton::clicked, this, &MonitorPage::clearOverlays);

    lr_plot_ = makePlot(tr("Learning rate"), tr("lr"), this);
    addLine(lr_plot_, QColor(148, 103, 189), 1.5, "lr");
    grad_plot_ = makePlot(tr("Gradient norm (before clipping)"), tr("norm"), this);
    addLine(grad_plot_, QColor(255, 127, 14), 1.5, "grad_norm");
    tps_plot_ = makePlot(tr("Throughput"), tr("tokens/s"), this);
    addLine(tps_plot_, QColor(23, 190, 207), 1.5, "tokens/s");
    mem_plot_ = makePlot(tr("GPU memory"), tr("GiB"), this);
    addLine(mem_plot_, QColor(140, 86, 75), 1.5, "GiB");
    mem_plot_->hide();  // shown when step events carry gpu_mem_gib (CUDA runs)
    rank_mem_plot_ = makePlot(tr("Memory per rank"), tr("GiB"), this);
    rank_mem_plot_->legend->setVisible(true);
    rank_mem_plot_->legend->setBrush(QBrush(palette().color(QPalette::Base)));
    rank_mem_plot_->legend->setTextColor(palette().color(QPalette::WindowText));
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.8);
    rank_mem_plot_->legend->setFont(small);
    rank_mem_plot_->legend->setRowSpacing(0);
    rank_mem_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    rank_mem_plot_->hide();  // shown when step events carry rank_mem_gib (data parallel runs)
    pref_plot_ = makePlot(tr("Preference: reward margin and accuracy"), tr("value"), this);
    addLine(pref_plot_, QColor(44, 160, 44), 1.5, tr("rewards/margins"));
    addLine(pref_plot_, QColor(31, 119, 180), 1.5, tr("rewards/accuracies"));
    pref_plot_->legend->setVisible(true);
    pref_plot_->legend->setBrush(QBrush(palette().color(QPalette::Base)));
    pref_plot_->legend->setTextColor(palette().color(QPalette::WindowText));
    pref_plot_->hide();  // shown when step events carry TRL's preference metrics (rl runs)
    probe_plot_ = makePlot(tr("Probes: loss on each probe dataset"), tr("loss"), this);
    probe_plot_->setToolTip(tr("probe_datasets, evaluated before training, every eval_steps and at the end: a general-text probe "
                               "that rises after the learning rate warms up again shows what continued pretraining forgets"));
    probe_plot_->legend->setVisible(true);
    probe_plot_->legend->setBrush(QBrush(palette().color(QPalette::Base)));
    probe_plot_->legend->setTextColor(palette().color(QPalette::WindowText));
    probe_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    probe_plot_->hide();  // shown when eval events name a probe
    task_plot_ = makePlot(tr("Tasks: eval_tasks scores"), tr("score"), this);
    task_plot_->setObjectName("taskPlot");
    task_plot_->setToolTip(tr("eval_tasks (lm-evaluation-harness tasks), scored with the model being trained before training, "
                              "every eval_steps and at the end: the same scores lathe eval gives each checkpoint"));
    task_plot_->legend->setVisible(true);
    task_plot_->legend->setTextColor(palette().color(QPalette::WindowText));
    placeLegendBelow(task_plot_);
    task_plot_->hide();  // shown when task_score events come

    for (QCustomPlot* plot : {loss_plot_, probe_plot_, task_plot_, lr_plot_, grad_plot_, tps_plot_, mem_plot_, rank_mem_plot_, pref_plot_}) {
        // Wheel and drag take over the view; a double click goes back to following the data.
        connect(plot, &QCustomPlot::mouseWheel, this, [this] { follow_ = false; });
        connect(plot, &QCustomPlot::mousePress, this, [this] { follow_ = false; });
        connect(plot, &QCustomPlot::mouseDoubleClick, this, [this] {
            follow_ = true;
            replotAll();
        });
    }

    log_ = new QPlainTextEdit(this);
    log_->setReadOnly(true);
    log_->setMaximumBlockCount(5000);
    log_->setPlaceholderText(tr("Warnings and errors from the trainer appear here."));

    auto* top = new QHBoxLayout;
    top->addWidget(progress_, 1);
    top->addWidget(eta_);
    top->addWidget(stop_);
    top->addWidget(pause_);
    top->addWidget(resume_);

    auto* lossControls = new QHBoxLayout;
    lossControls->addWidget(new QLabel(tr("Smoothing"), this));
    lossControls->addWidget(smoothing_, 1);
    lossControls->addWidget(smoothing_value_);
    lossControls->addSpacing(16);
    lossControls->addWidget(new QLabel(tr("Compare with"), this));
    lossControls->addWidget(compare_);
    lossControls->addWidget(clear);
    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(loss_plot_, 2);
    leftLayout->addLayout(lossControls);
    leftLayout->addWidget(probe_plot_, 1);
    leftLayout->addWidget(task_plot_, 1);

    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    for (QCustomPlot* p : {lr_plot_, grad_plot_, tps_plot_, mem_plot_, rank_mem_plot_, pref_plot_}) rightLayout->addWidget(p, 1);

    auto* charts = new QSplitter(Qt::Horizontal, this);
    charts->addWidget(left);
    charts->addWidget(right);
    charts->setStretchFactor(0, 3);
    charts->setStretchFactor(1, 2);
    auto* vertical = new QSplitter(Qt::Vertical, this);
    vertical->addWidget(charts);
    vertical->addWidget(log_);
    vertical->setStretchFactor(0, 5);
    vertical->setStretchFactor(1, 1);
    vertical->setSizes({600, 110});

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(title_);
    layout->addWidget(status_);
    layout->addLayout(top);
    layout->addWidget(failure_);
    layout->addWidget(vertical, 1);

    connect(session_, &TrainingSession::started, this, &MonitorPage::onStarted);
    replot_timer_ = new QTimer(this);
    replot_timer_->setSingleShot(true);
    replot_timer_->setInterval(33);
    connect(replot_timer_, &QTimer::timeout, this, &MonitorPage::replotAll);
    connect(session_, &TrainingSession::stepped, this, [this](const lathe::StepEvent& p) {
        addStep(p);
        scheduleReplot();
    });
    connect(session_, &TrainingSession::evaluated, this, [this](qint64 step, double loss) {
        addEval(step, loss);
        log(tr("step %1: validation loss %2").arg(step).arg(loss, 0, 'f', 4));
        scheduleReplot();
    });
    connect(session_, &TrainingSession::validationProjected, this, [this](qint64 step, const lathe::ProjectedLoss& p) {
        validation_projection_ = p;
        const double at = eval_->dataCount() > 0 ? (eval_->data()->constEnd() - 1)->value : p.final_loss;
        drawForecast(validation_forecast_, static_cast<double>(step), at, p);
        scheduleReplot();
    });
    connect(session_, &TrainingSession::probeEvaluated, this, [this](qint64 step, const QString& probe, double loss) {
        addProbe(step, probe, loss);
        log(tr("step %1: probe %2 loss %3").arg(step).arg(probe).arg(loss, 0, 'f', 4));
        scheduleReplot();
    });
    connect(session_, &TrainingSession::taskScored, this, [this](qint64 step, const QString& task, const QString& metric, const QString& filter, double value) {
        addTaskScore(step, task, metric, filter, value);
        log(tr("step %1: %2 %3 (%4) %5").arg(step).arg(task, metric, filter).arg(value, 0, 'f', 4));
        scheduleReplot();
    });
    connect(session_, &TrainingSession::checkpointSaved, this, [this](qint64 step, const QString& path) {
        addCheckpoint(step);
        log(tr("step %1: checkpoint %2").arg(step).arg(path));
        scheduleReplot();
    });
    connect(session_, &TrainingSession::warning, this, [this](qint64 step, const QString& m) { log(tr("warning at step %1: %2").arg(step).arg(m)); });
    connect(session_, &TrainingSession::stderrLine, this, &MonitorPage::log);
    connect(session_, &TrainingSession::failed, this, &MonitorPage::onFailed);
    connect(session_, &TrainingSession::finished, this, &MonitorPage::onFinished);

    // A run opened from the store while another process trains it (one left running when the GUI
    // closed): its charts follow the store until it ends.
    watch_timer_ = new QTimer(this);
    watch_timer_->setInterval(2000);
    connect(watch_timer_, &QTimer::timeout, this, [this] {
        if (session_->isRunning() || run_id_ <= 0) return watch_timer_->stop();
        const bool keepView = !follow_;
        loadHistory(run_id_);
        follow_ = !keepView;
    });

    resmooth();
    refreshOverlayChoices();
    updateButtons();
}

int MonitorPage::lossPointCount() const { return loss_raw_->dataCount(); }
int MonitorPage::preferencePointCount() const { return pref_plot_->graph(0)->dataCount(); }
bool MonitorPage::preferenceChartShown() const { return !pref_plot_->isHidden(); }
int MonitorPage::evalPointCount() const { return eval_->dataCount(); }
QPair<double, double> MonitorPage::trainingForecastSpan() const {
    const auto& d = *training_forecast_.line->data();
    return d.isEmpty() ? QPair<double, double>{0, 0} : QPair<double, double>{d.constBegin()->key, (d.constEnd() - 1)->key};
}
bool MonitorPage::projectionShown() const { return training_forecast_.line->dataCount() > 0 || validation_forecast_.line->dataCount() > 0; }
int MonitorPage::probePointCount(const QString& probe) const { return probe_graphs_.contains(probe) ? probe_graphs_[probe]->dataCount() : 0; }
bool MonitorPage::probeChartShown() const { return !probe_plot_->isHidden(); }
int MonitorPage::taskPointCount(const QString& curve) const { return task_graphs_.contains(curve) ? task_graphs_[curve]->dataCount() : 0; }
bool MonitorPage::taskChartShown() const { return !task_plot_->isHidden(); }
int MonitorPage::checkpointMarkerCount() const { return checkpoints_->dataCount(); }
QString MonitorPage::statusText() const { return title_->text() + "\n" + status_->text(); }
QString MonitorPage::logText() const { return log_->toPlainText(); }
QString MonitorPage::failureText() const { return failure_->isVisible() || !failure_->text().isEmpty() ? failure_->text() : QString(); }

void MonitorPage::clearCharts() {
    for (QCustomPlot* plot : {loss_plot_, lr_plot_, grad_plot_, tps_plot_, mem_plot_, pref_plot_})
        for (int i = 0; i < plot->graphCount(); ++i)
            if (!overlays_.values().contains(plot->graph(i))) plot->graph(i)->data()->clear();
    mem_plot_->hide();
    pref_plot_->hide();
    rank_mem_plot_->clearGraphs();  // another run may have another number of ranks
    rank_mem_plot_->hide();
    setPlotTitle(tps_plot_, tr("Throughput"));
    // Another run has other probes: their curves go, not only their points.
    probe_plot_->clearGraphs();
    probe_graphs_.clear();
    probe_names_.clear();
    probe_plot_->hide();
    task_plot_->clearGraphs();
    task_graphs_.clear();
    task_curve_names_.clear();
    task_plot_->hide();
    checkpoint_steps_.clear();
    smoothed_loss_ = {};
    training_projection_.reset();
    validation_projection_.reset();
    for (QCPGraph* g : {training_forecast_.line, validation_forecast_.line}) g->removeFromLegend();
    failure_->clear();
    failure_->hide();
    total_steps_ = last_step_ = 0;
    session_first_step_ = -1;
    follow_ = true;
}

void MonitorPage::startRun(const QString& configPath, const RankLaunch& ranks) {
    if (session_->isRunning()) {
        QMessageBox::information(this, tr("A run is in progress"), tr("Stop or pause the current run before starting another."));
        return;
    }
    watch_timer_->stop();
    clearCharts();
    log_->clear();
    run_id_ = 0;
    pausing_ = paused_ = false;
    title_->setText(tr("Starting %1…").arg(configPath));
    status_->setText(tr("Loading the model and the dataset."));
    run_status_ = lathe::RunStatus::running;
    emit showRequested();
    session_->setStorePath(QString::fromStdString(runs_.path()));
    session_->start(configPath, ranks);
    updateButtons();
}

void MonitorPage::resumeRun(qint64 runId) {
    if (runId <= 0 || session_->isRunning()) return;
    if (runId != run_id_ || lossPointCount() == 0) {
        if (!loadHistory(runId)) return;
    }
    watch_timer_->stop();
    failure_->clear();
    failure_->hide();
    pausing_ = paused_ = false;
    session_first_step_ = -1;
    run_status_ = lathe::RunStatus::running;
    title_->setText(tr("Run #%1 — resuming").arg(runId));
    status_->setText(tr("Continuing from the latest checkpoint."));
    emit showRequested();
    session_->setStorePath(QString::fromStdString(runs_.path()));
    session_->resume(runId, ranks_of_run_.value(runId));
    updateButtons();
}

void MonitorPage::openRun(qint64 runId) {
    if (session_->isRunning() && runId != run_id_) {
        QMessageBox::information(this, tr("A run is in progress"), tr("The Monitor shows the run in progress; open run #%1 after it ends.").arg(runId));
        return;
    }
    if (runId == run_id_ && session_->isRunning()) {
        emit showRequested();
        return;
    }
    if (loadHistory(runId)) emit showRequested();
}

// Fills the charts from the run store: metrics, evaluations, checkpoints, status.
bool MonitorPage::loadHistory(qint64 runId) {
    try {
        auto run = runs_.find_run(runId);
        if (!run) {
            QMessageBox::warning(this, tr("No such run"), tr("Run #%1 is not in the run store %2.").arg(runId).arg(QString::fromStdString(runs_.path())));
            return false;
        }
        clearCharts();
        log_->clear();
        run_id_ = runId;
        std::optional<lathe::ProjectedLoss> last_training, last_validation;  // drawn once the curves are in
        for (const auto& line : runs_.events(runId)) {
            std::optional<lathe::EventLine> event;
            try {
                event = lathe::parse_event_line(line);
            } catch (const std::exception& e) {
                log(tr("unreadable event in the run store: %1").arg(QString::fromUtf8(e.what())));
                continue;
            }
            if (!event) continue;  // a kind a newer trainer added
            if (auto* start = std::get_if<lathe::StartEvent>(&event->event)) total_steps_ = start->total_steps;
            else if (auto* w = std::get_if<lathe::WarningEvent>(&event->event)) log(tr("warning at step %1: %2").arg(w->step).arg(QString::fromStdString(w->message)));
            else if (auto* error = std::get_if<lathe::ErrorEvent>(&event->event)) log(tr("error: %1").arg(QString::fromStdString(error->message)));
            else if (auto* s = std::get_if<lathe::StepEvent>(&event->event); s && s->projection) last_training = s->projection;
            else if (auto* e = std::get_if<lathe::EvalEvent>(&event->event); e && e->projection) last_validation = e->projection;
        }
        QHash<qint64, lathe::StepEvent> steps;
        QList<qint64> order;
        for (const auto& m : runs_.metrics(runId)) {
            if (m.name == "eval_loss") {
                addEval(m.step, m.value);
                continue;
            }
            if (auto probe = lathe::probe_of_loss_metric(m.name)) {
                addProbe(m.step, QString::fromStdString(*probe), m.value);
                continue;
            }
            if (auto score = lathe::task_score_of_metric(m.name)) {
                addTaskScore(m.step, QString::fromStdString(score->task), QString::fromStdString(score->metric), QString::fromStdString(score->filter), m.value);
                continue;
            }
            if (m.name.rfind("eval_tasks/", 0) == 0) continue;  // the task scores' standard errors: not charted
            if (m.name.rfind("eval_perplexity", 0) == 0) continue;  // the validation set's and the probes' perplexities: not charted
            if (!steps.contains(m.step)) order << m.step;
            lathe::StepEvent& p = steps[m.step];
            p.step = m.step;
            if (m.name == "loss") p.loss = m.value;
            else if (m.name == "lr") p.lr = m.value;
            else if (m.name == "grad_norm") p.grad_norm = m.value;
            else if (m.name == "tokens_per_s") p.tokens_per_s = m.value;
            else if (m.name == "gpu_mem_gib") p.gpu_mem_gib = m.value;
            else if (m.name.rfind("rank_mem_gib/", 0) == 0) {
                const size_t rank = std::stoul(m.name.substr(13));
                if (!p.rank_mem_gib) p.rank_mem_gib.emplace();
                if (p.rank_mem_gib->size() <= rank) p.rank_mem_gib->resize(rank + 1, 0.0);
                (*p.rank_mem_gib)[rank] = m.value;
            }
            else if (m.name == "rewards/margins" || m.name == "rewards/accuracies") {
                if (!p.preference) p.preference.emplace();
                (m.name == "rewards/margins" ? p.preference->rewards_margins : p.preference->rewards_accuracies) = m.value;
            }
        }
        training_projection_ = last_training;  // each addStep draws it from its newest point: O(1) a step
        for (qint64 s : order) addStep(steps[s]);
        if (last_validation && eval_->dataCount() > 0) {
            validation_projection_ = last_validation;
            const auto last_eval = eval_->data()->constEnd() - 1;
            drawForecast(validation_forecast_, last_eval->key, last_eval->value, *last_validation);
        }
        for (const auto& c : runs_.checkpoints(runId)) addCheckpoint(c.step);
        run_status_ = run->status;
        paused_ = false;
        const bool elsewhere = run_status_ == lathe::RunStatus::running && !session_->isRunning();
        if (elsewhere) watch_timer_->start();
        else watch_timer_->stop();
        title_->setText(tr("Run #%1 — %2 (%3)").arg(runId).arg(QString::fromStdString(run->name), elsewhere ? tr("running in another process") : QString(lathe::to_string(run_status_))));
        status_->setText(tr("Model %1 · output %2").arg(QString::fromStdString(run->model), QString::fromStdString(run->output_dir)));
        progress_->setRange(0, static_cast<int>(std::max<qint64>(1, total_steps_)));
        progress_->setValue(static_cast<int>(last_step_));
        eta_->clear();
        if (run_status_ == lathe::RunStatus::interrupted) {
            failure_->setText(tr("This run was interrupted: %1. Resume continues from its last checkpoint.").arg(QString::fromStdString(run->error)));
            failure_->show();
        } else if (!run->error.empty()) {
            failure_->setText(tr("This run failed: %1").arg(QString::fromStdString(run->error)));
            failure_->show();
        }
        refreshOverlayChoices();
        updateButtons();
        replotAll();
        return true;
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Cannot read the run store"), QString::fromUtf8(e.what()));
        return false;
    }
}

int MonitorPage::rankMemoryCurveCount() const { return rank_mem_plot_->isHidden() ? 0 : rank_mem_plot_->graphCount(); }

QString MonitorPage::throughputTitle() const {
    auto* heading = qobject_cast<QCPTextElement*>(tps_plot_->plotLayout()->element(0, 0));
    return heading ? heading->text() : QString();
}

// One curve per rank; the throughput chart says that it counts every rank's tokens.
void MonitorPage::addRankMemory(double step, const std::vector<double>& gib) {
    static const QColor colors[] = {QColor(140, 86, 75), QColor(31, 119, 180), QColor(44, 160, 44), QColor(214, 39, 40),
                                    QColor(148, 103, 189), QColor(255, 127, 14), QColor(227, 119, 194), QColor(127, 127, 127)};
    while (rank_mem_plot_->graphCount() < static_cast<int>(gib.size())) {
        const int r = rank_mem_plot_->graphCount();
        addLine(rank_mem_plot_, colors[r % 8], 1.5, tr("rank %1").arg(r));
    }
    for (size_t r = 0; r < gib.size(); ++r) rank_mem_plot_->graph(static_cast<int>(r))->addData(step, gib[r]);
    if (rank_mem_plot_->isHidden()) {
        setPlotTitle(tps_plot_, tr("Throughput (all %1 ranks)").arg(gib.size()));
        rank_mem_plot_->show();
    }
}

void MonitorPage::addStep(const lathe::StepEvent& p) {
    const double x = static_cast<double>(p.step);
    loss_raw_->addData(x, p.loss);
    lr_plot_->graph(0)->addData(x, p.lr);
    grad_plot_->graph(0)->addData(x, p.grad_norm);
    tps_plot_->graph(0)->addData(x, p.tokens_per_s);
    if (p.gpu_mem_gib) {
        mem_plot_->graph(0)->addData(x, *p.gpu_mem_gib);
        mem_plot_->show();
    }
    if (p.rank_mem_gib) addRankMemory(x, *p.rank_mem_gib);
    if (p.preference) {
        pref_plot_->graph(0)->addData(x, p.preference->rewards_margins);
        pref_plot_->graph(1)->addData(x, p.preference->rewards_accuracies);
        pref_plot_->show();
    }
    last_step_ = p.step;
    if (p.total_steps > 0) total_steps_ = p.total_steps;
    // Smoothing the newest point needs only the running average; a full re-smooth is for the slider and
    // the overlays.
    const double smoothed = smoothed_loss_.add(p.loss, smoothing_->value() / 100.0);
    loss_smooth_->addData(x, smoothed);
    if (p.projection) training_projection_ = p.projection;
    if (training_projection_) drawForecast(training_forecast_, x, smoothed, *training_projection_);
    if (session_->isRunning()) updateProgress(p.step, p.elapsed_s);
}

MonitorPage::ForecastGraphs MonitorPage::addForecastGraphs(const QColor& color, const QString& name) {
    ForecastGraphs g;
    QColor fill = color;
    fill.setAlpha(45);
    g.low = loss_plot_->addGraph();
    g.low->setPen(Qt::NoPen);
    g.low->removeFromLegend();
    g.high = loss_plot_->addGraph();
    g.high->setPen(Qt::NoPen);
    g.high->setBrush(fill);
    g.high->setChannelFillGraph(g.low);
    g.high->removeFromLegend();
    g.line = loss_plot_->addGraph();
    g.line->setPen(QPen(color, 1.5, Qt::DashLine));
    g.line->setName(name);
    g.line->removeFromLegend();  // in the legend once there is a forecast to show
    return g;
}

// Two points per graph, replaced at each step: the forecast costs O(1) a step, like the smoothing.
void MonitorPage::drawForecast(const ForecastGraphs& g, double fromStep, double fromLoss, const lathe::ProjectedLoss& p) {
    const double to = std::max(fromStep, static_cast<double>(total_steps_));
    g.line->setData({fromStep, to}, {fromLoss, p.final_loss}, true);
    g.low->setData({fromStep, to}, {fromLoss, p.low}, true);
    g.high->setData({fromStep, to}, {fromLoss, p.high}, true);
    g.line->addToLegend();
}

void MonitorPage::addEval(qint64 step, double loss) { eval_->addData(static_cast<double>(step), loss); }

// A probe's point: O(1), like a step's; its curve is made when the probe first reports.
void MonitorPage::addProbe(qint64 step, const QString& probe, double loss) {
    QCPGraph*& g = probe_graphs_[probe];
    if (!g) {
        static const QColor colors[] = {QColor(214, 39, 40), QColor(31, 119, 180), QColor(44, 160, 44), QColor(255, 127, 14),
                                        QColor(148, 103, 189), QColor(140, 86, 75)};
        const QColor color = colors[probe_names_.size() % 6];
        g = addLine(probe_plot_, color, 2, probe);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 6));
        probe_names_ << probe;
    }
    g->addData(static_cast<double>(step), loss);
    probe_plot_->show();
}

// A task score's point, as a probe's: its curve (task and metric, the filter when there is one) is made
// when it first reports.
void MonitorPage::addTaskScore(qint64 step, const QString& task, const QString& metric, const QString& filter, double value) {
    const QString curve = filter == "none" ? task + " " + metric : QString("%1 %2 (%3)").arg(task, metric, filter);
    QCPGraph*& g = task_graphs_[curve];
    if (!g) {
        static const QColor colors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
                                        QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(23, 190, 207)};
        const QColor color = colors[task_curve_names_.size() % 8];
        g = addLine(task_plot_, color, 2, curve);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, color, color, 7));
        task_curve_names_ << curve;
    }
    g->addData(static_cast<double>(step), value);
    task_plot_->show();
}

void MonitorPage::addCheckpoint(qint64 step) {
    if (!checkpoint_steps_.contains(step)) checkpoint_steps_ << step;
    placeCheckpointMarkers();
}

// Each checkpoint marker sits on the smoothed curve at its step (or the last step before it).
void MonitorPage::placeCheckpointMarkers() {
    const auto& smoothed = *loss_smooth_->data();
    QVector<double> cx, cy;
    for (qint64 step : checkpoint_steps_) {
        auto at = smoothed.findEnd(static_cast<double>(step), false);  // the first point after `step`
        cx << static_cast<double>(step);
        cy << (smoothed.isEmpty() ? 0.0 : at == smoothed.constBegin() ? smoothed.constBegin()->value : (at - 1)->value);
    }
    checkpoints_->setData(cx, cy);
}

void MonitorPage::scheduleReplot() {
    if (!replot_timer_->isActive()) replot_timer_->start();
}

QVector<double> MonitorPage::smoothedLoss() const {
    QVector<double> out;
    for (auto it = loss_smooth_->data()->constBegin(); it != loss_smooth_->data()->constEnd(); ++it) out << it->value;
    return out;
}

void MonitorPage::resmooth() {
    const double w = smoothing_->value() / 100.0;
    smoothing_value_->setText(QString::number(w, 'f', 2));
    QVector<double> xs, ys;
    for (auto it = loss_raw_->data()->constBegin(); it != loss_raw_->data()->constEnd(); ++it) {
        xs << it->key;
        ys << it->value;
    }
    loss_smooth_->setData(xs, smooth(ys, w, smoothed_loss_), true);
    placeCheckpointMarkers();
    if (training_projection_ && !xs.isEmpty()) drawForecast(training_forecast_, xs.last(), (loss_smooth_->data()->constEnd() - 1)->value, *training_projection_);
    for (auto it = overlays_.begin(); it != overlays_.end(); ++it) {
        const auto& [steps, losses] = overlay_data_[it.key()];
        DebiasedAverage overlay;
        it.value()->setData(steps, smooth(losses, w, overlay), true);
    }
    loss_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MonitorPage::updateProgress(qint64 step, double elapsed) {
    progress_->setRange(0, static_cast<int>(std::max<qint64>(1, total_steps_)));
    progress_->setValue(static_cast<int>(step));
    // elapsed_s counts from this process's start, so the rate is measured over this session's steps.
    if (session_first_step_ < 0) {
        session_first_step_ = step - 1;
        session_first_elapsed_ = 0;
    }
    const double done = static_cast<double>(step - session_first_step_);
    const double perStep = done > 0 ? (elapsed - session_first_elapsed_) / done : 0;
    eta_->setText(tr("%1 elapsed · ETA %2").arg(duration(elapsed), duration(perStep * static_cast<double>(total_steps_ - step))));
    QString text = tr("Step %1 of %2 · loss %3").arg(step).arg(total_steps_).arg(loss_raw_->data()->at(loss_raw_->dataCount() - 1)->value, 0, 'f', 4);
    if (training_projection_)
        text += tr(" · forecast final loss %1 (80%: %2–%3)")
                    .arg(training_projection_->final_loss, 0, 'f', 3)
                    .arg(training_projection_->low, 0, 'f', 3)
                    .arg(training_projection_->high, 0, 'f', 3);
    status_->setText(text);
}

void MonitorPage::onStarted(qint64 runId, qint64 startStep, qint64 totalSteps, const QString& device) {
    run_id_ = runId;
    ranks_of_run_[runId] = session_->ranks();
    total_steps_ = totalSteps;
    const int ranks = session_->ranks().processes;
    title_->setText(ranks > 1 ? tr("Run #%1 — training on %2 ranks (rank 0 on %3, lathe launch)").arg(runId).arg(ranks).arg(device)
                              : tr("Run #%1 — training on %2").arg(runId).arg(device));
    status_->setText(startStep > 0 ? tr("Resumed at step %1 of %2.").arg(startStep).arg(totalSteps) : tr("Started: %1 steps.").arg(totalSteps));
    progress_->setRange(0, static_cast<int>(std::max<qint64>(1, totalSteps)));
    progress_->setValue(static_cast<int>(startStep));
    log(status_->text());
    refreshOverlayChoices();
}

void MonitorPage::onFailed(const QString& reason, const QString& advice) {
    failure_->setText(tr("<b>The run failed.</b> %1<br>%2").arg(reason.toHtmlEscaped().replace("\n", "<br>"), advice.toHtmlEscaped()));
    failure_->show();
    log(tr("error: %1").arg(reason));
}

void MonitorPage::onFinished(lathe::RunStatus status) {
    run_status_ = status;
    paused_ = pausing_ && status == lathe::RunStatus::stopped;
    QString text;
    switch (status) {
        case lathe::RunStatus::completed: text = tr("Completed at step %1.").arg(last_step_); break;
        case lathe::RunStatus::stopped:
            text = paused_ ? tr("Paused at step %1 with a checkpoint; Resume continues from it.").arg(last_step_)
                           : tr("Stopped at step %1 with a checkpoint; Resume continues from it.").arg(last_step_);
            break;
        case lathe::RunStatus::interrupted:
            text = tr("The trainer ended unexpectedly at step %1; the run and its checkpoints are kept.").arg(last_step_);
            break;
        default: text = tr("Failed."); break;
    }
    const QString shown = paused_ ? tr("paused") : QString(lathe::to_string(status));
    title_->setText(run_id_ > 0 ? tr("Run #%1 — %2").arg(run_id_).arg(shown) : tr("Run failed"));
    status_->setText(text);
    eta_->clear();
    log(text);
    pausing_ = false;
    updateButtons();
    refreshOverlayChoices();
    emit runFinished(run_id_, run_status_);
}

void MonitorPage::stopRun() {
    if (!session_->isRunning()) return;
    pausing_ = false;
    status_->setText(tr("Stopping: saving a checkpoint…"));
    session_->stop();
    updateButtons();
}

void MonitorPage::pauseRun() {
    if (!session_->isRunning()) return;
    pausing_ = true;
    status_->setText(tr("Pausing: saving a checkpoint…"));
    session_->stop();
    updateButtons();
}

void MonitorPage::updateButtons() {
    const bool running = session_->state() == TrainingSession::State::Running;
    stop_->setEnabled(running);
    pause_->setEnabled(running);
    // Not a run that another process is still running (the store says so while it lives).
    const bool resumable = !session_->isRunning() && run_id_ > 0 && lathe::is_resumable(run_status_) && checkpointMarkerCount() > 0;
    resume_->setEnabled(resumable);
}

void MonitorPage::log(const QString& line) { log_->appendPlainText(line); }

void MonitorPage::refreshOverlayChoices() {
    compare_->clear();
    compare_->addItem(tr("an earlier run…"), 0);
    try {
        for (const auto& r : runs_.list_runs()) {
            if (r.id == run_id_ || overlays_.contains(r.id)) continue;
            compare_->addItem(tr("#%1 %2 (%3)").arg(r.id).arg(QString::fromStdString(r.name), QString(lathe::to_string(r.status))), QVariant::fromValue<qint64>(r.id));
        }
    } catch (const std::exception&) {
        // No readable store yet: nothing to compare with.
    }
    compare_->setEnabled(compare_->count() > 1);
}

void MonitorPage::addOverlay(qint64 runId) {
    if (overlays_.contains(runId) || runId == run_id_) return;
    try {
        QVector<double> steps, losses;
        for (const auto& m : runs_.metrics(runId, "loss")) {
            steps << static_cast<double>(m.step);
            losses << m.value;
        }
        if (steps.isEmpty()) return;
        static const QColor colors[] = {QColor(127, 127, 127), QColor(188, 189, 34), QColor(227, 119, 194), QColor(140, 86, 75)};
        QCPGraph* g = loss_plot_->addGraph();
        g->setPen(QPen(colors[overlays_.size() % 4], 1.5, Qt::DashLine));
        g->setName(tr("run #%1").arg(runId));
        overlays_.insert(runId, g);
        overlay_data_.insert(runId, {steps, losses});
        resmooth();
        refreshOverlayChoices();
        replotAll();
    } catch (const std::exception& e) {
        log(tr("cannot read run #%1: %2").arg(runId).arg(QString::fromUtf8(e.what())));
    }
}

void MonitorPage::clearOverlays() {
    for (QCPGraph* g : overlays_) loss_plot_->removeGraph(g);
    overlays_.clear();
    overlay_data_.clear();
    refreshOverlayChoices();
    replotAll();
}

void MonitorPage::replotAll() {
    replot_timer_->stop();
    ++redraws_;
    for (QCustomPlot* plot : {loss_plot_, probe_plot_, task_plot_, lr_plot_, grad_plot_, tps_plot_, mem_plot_, rank_mem_plot_, pref_plot_}) {
        if (follow_) {
            plot->rescaleAxes();
            // A little headroom so the newest point and the markers are not on the frame.
            QCPRange y = plot->yAxis->range();
            const double pad = y.size() > 0 ? y.size() * 0.08 : std::max(1e-12, std::abs(y.center()) * 0.1);
            plot->yAxis->setRange(y.lower - pad, y.upper + pad);
            QCPRange x = plot->xAxis->range();
            plot->xAxis->setRange(x.lower, std::max(x.upper, x.lower + 1) + (x.size() > 0 ? x.size() * 0.02 : 0.5));
        }
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

bool MonitorPage::confirmClose() {
    if (!session_->isRunning()) return true;
    QMessageBox box(QMessageBox::Question, tr("A run is in progress"),
                    tr("Run #%1 is training (step %2 of %3).").arg(run_id_).arg(last_step_).arg(total_steps_), QMessageBox::NoButton, this);
    box.setInformativeText(tr("Stop it with a checkpoint (Resume continues it later), or leave it running in the background? "
                              "A run left running keeps writing the run store; open it from the Runs page later."));
    QPushButton* stop = box.addButton(tr("Stop with checkpoint"), QMessageBox::AcceptRole);
    QPushButton* leave = box.addButton(tr("Leave running"), QMessageBox::DestructiveRole);
    box.addButton(QMessageBox::Cancel);
    box.setDefaultButton(stop);
    box.exec();
    if (box.clickedButton() == stop) {
        session_->stop();  // the trainer saves and exits by itself, GUI or not
        session_->detach();
        return true;
    }
    if (box.clickedButton() == leave) {
        session_->detach();
        return true;
    }
    return false;
}
