package dev.concurry.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.DefaultXYDataset;

/** Charts of admitted rate over time against the limit, drawn with JFreeChart into PNG files. */
final class RateChart {
    private RateChart() {
    }

    /** Writes the tokens-per-minute chart of the given runs to {@code file} and returns its path. */
    static Path tokensPerMinute(Path file, List<LlmScenario.Result> runs) throws IOException {
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (LlmScenario.Result run : runs) {
            series.put(run.limited() ? "with Concurry limits" : "without limits",
                    run.tokensPerMinuteOverTime(Duration.ofMillis(50)));
        }
        return draw(file,
                "Tokens used in the trailing minute (1 minute = " + runs.getFirst().minute().toMillis() + " ms)",
                series, Map.of("limit " + LlmScenario.TOKENS_PER_MINUTE, (double) LlmScenario.TOKENS_PER_MINUTE));
    }

    /**
     * Writes the chart of the provider-feedback scenario, without and with feedback: above, the tokens
     * the provider served (to every client) in the trailing minute against its real quota and the
     * configured one; below, the 429 answers the workers got in the trailing minute.
     */
    static Path providerFeedback(Path file, FeedbackScenario.Result result) throws IOException {
        Duration step = Duration.ofMillis(50);
        Map<String, double[][]> served = new LinkedHashMap<>();
        served.put("without feedback", result.without().servedPerMinuteOverTime(step));
        served.put("with feedback", result.with().servedPerMinuteOverTime(step));
        Map<String, Double> markers = new LinkedHashMap<>();
        markers.put("provider's real quota " + FeedbackScenario.REAL_TOKENS_PER_MINUTE,
                (double) FeedbackScenario.REAL_TOKENS_PER_MINUTE);
        markers.put("configured " + LlmScenario.TOKENS_PER_MINUTE, (double) LlmScenario.TOKENS_PER_MINUTE);
        XYPlot tokens = plot(served, "tokens served per minute", markers);
        tokens.getRangeAxis().setUpperBound(LlmScenario.TOKENS_PER_MINUTE * 1.1);
        Map<String, double[][]> refused = new LinkedHashMap<>();
        refused.put("without feedback", result.without().rejectedPerMinuteOverTime(step));
        refused.put("with feedback", result.with().rejectedPerMinuteOverTime(step));
        CombinedDomainXYPlot both = new CombinedDomainXYPlot(new NumberAxis("seconds since start"));
        both.add(tokens, 2);
        XYPlot rejections = plot(refused, "429s per minute", Map.of());
        both.add(rejections, 1);
        for (XYPlot plot : List.of(tokens, rejections)) {
            plot.getRenderer().setSeriesPaint(0, new Color(0xD6, 0x27, 0x28));     // without: red, in both plots
            plot.getRenderer().setSeriesPaint(1, new Color(0x1F, 0x77, 0xB4));     // with: blue
        }
        rejections.getRenderer().setDefaultSeriesVisibleInLegend(false);
        JFreeChart chart = new JFreeChart("Listening to the provider (1 minute = " + result.with().minute().toMillis()
                + " ms)", JFreeChart.DEFAULT_TITLE_FONT, both, true);
        return save(file, chart, 600);
    }

    /** A plot of {@code series} with dashed horizontal {@code markers}, labelled. */
    private static XYPlot plot(Map<String, double[][]> series, String yLabel, Map<String, Double> markers) {
        DefaultXYDataset data = new DefaultXYDataset();
        series.forEach(data::addSeries);
        XYPlot plot = new XYPlot(data, null, new NumberAxis(yLabel), new XYLineAndShapeRenderer(true, false));
        markers.forEach((label, value) -> {
            ValueMarker limit = new ValueMarker(value, Color.DARK_GRAY,
                    new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
            limit.setLabel(label);
            limit.setLabelAnchor(org.jfree.chart.ui.RectangleAnchor.TOP_RIGHT);
            limit.setLabelTextAnchor(org.jfree.chart.ui.TextAnchor.BOTTOM_RIGHT);
            limit.setLabelOffset(new org.jfree.chart.ui.RectangleInsets(2, 2, 2, 8));
            plot.addRangeMarker(limit);
        });
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return plot;
    }

    private static Path draw(Path file, String title, Map<String, double[][]> series, Map<String, Double> markers)
            throws IOException {
        XYPlot plot = plot(series, "tokens per minute", markers);
        plot.setDomainAxis(new NumberAxis("seconds since start"));
        return save(file, new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true), 450);
    }

    private static Path save(Path file, JFreeChart chart, int height) throws IOException {
        System.setProperty("java.awt.headless", "true");
        ChartFactory.getChartTheme().apply(chart);
        for (XYPlot plot : chart.getPlot() instanceof CombinedDomainXYPlot combined
                ? combined.getSubplots()
                : List.of(chart.getXYPlot())) {
            plot.setBackgroundPaint(Color.WHITE);       // the theme's grey, undone
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, height);
        return file.toAbsolutePath();
    }
}
