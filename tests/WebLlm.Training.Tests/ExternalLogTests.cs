using WebLlm.Training.External;

namespace WebLlm.Training.Tests;

public class ExternalLogTests
{
    private const string LlmCLog = """
        s:0 tel:11.0094
        s:0 trl:11.0117 lr:0.000000 norm:15.43
        s:1 trl:10.9354 lr:0.000001 norm:14.92
        s:250 tel:6.1520
        s:250 eval:0.2537
        s:251 trl:nan lr:0.000600 norm:nan
        """;

    private const string NanoGptLog = """
        tokens per iteration will be: 16,384
        found vocab_size = 65 (inside data/shakespeare_char/meta.pkl)
        Initializing a new model from scratch
        number of parameters: 10.65M
        step 0: train loss 4.2874, val loss 4.2823
        iter 0: loss 4.2649, time 30143.64ms, mfu -100.00%
        iter 10: loss 3.1462, time 32.71ms, mfu 11.39%
        step 250: train loss 1.9688, val loss 2.0681
        saving checkpoint to out-shakespeare-char
        """;

    [Fact]
    public void Llmc_main_log_lines_become_metrics()
    {
        var records = LlmCLog.Split('\n').Select(l => ExternalLog.Parse(l, ExternalLogFormat.LlmC)).ToList();
        Assert.Equal(new ExternalValLoss(0, 11.0094, null), records[0]);
        Assert.Equal(new ExternalTrainStep(1, 10.9354, 0.000001, 14.92, null, null), records[2]);
        Assert.Equal(new ExternalEvalScore(250, 0.2537), records[4]);
        var nan = Assert.IsType<ExternalTrainStep>(records[5]);
        Assert.True(double.IsNaN(nan.Loss));
    }

    [Fact]
    public void NanoGpt_console_lines_become_metrics_and_the_rest_is_ignored()
    {
        var records = NanoGptLog.Split('\n').Select(l => ExternalLog.Parse(l, ExternalLogFormat.NanoGpt)).ToList();
        Assert.Equal(4, records.Count(r => r is not null));
        Assert.Equal(new ExternalValLoss(0, 4.2823, 4.2874), records[4]);
        var iter = Assert.IsType<ExternalTrainStep>(records[6]);
        Assert.Equal((10L, 3.1462, 32.71), (iter.Step, iter.Loss, iter.Milliseconds!.Value));
        Assert.Equal(0.1139, iter.Mfu!.Value, 6);
    }

    [Fact]
    public void The_format_is_detected_from_the_first_metric_line()
    {
        Assert.Equal(ExternalLogFormat.LlmC, ExternalLog.Detect(LlmCLog.Split('\n')));
        Assert.Equal(ExternalLogFormat.NanoGpt, ExternalLog.Detect(NanoGptLog.Split('\n')));
        Assert.Null(ExternalLog.Detect(["hello", "world"]));
    }

    [Theory]
    [InlineData("s:12 trl:")]
    [InlineData("s:12 trl:1.0e")]
    [InlineData("s:x trl:1.0")]
    [InlineData("s:99999999999999999999 trl:1.0")]
    [InlineData("iter 3: loss 2.1, time")]
    public void Half_written_or_garbled_lines_are_skipped(string line)
    {
        Assert.Null(ExternalLog.Parse(line, ExternalLogFormat.LlmC));
        Assert.Null(ExternalLog.Parse(line, ExternalLogFormat.NanoGpt));
    }

    [Fact]
    public void The_follower_returns_complete_lines_waits_for_partial_ones_and_restarts_on_truncation()
    {
        string path = Path.Combine(TestData.TempDir(), "main.log");
        var follower = new LogFollower(path);
        Assert.Empty(follower.ReadNewLines()); // not there yet
        File.WriteAllText(path, "s:1 trl:2.0\ns:2 tr");
        Assert.Equal(["s:1 trl:2.0"], follower.ReadNewLines());
        File.AppendAllText(path, "l:1.5\n");
        Assert.Equal(["s:2 trl:1.5"], follower.ReadNewLines());
        Assert.Empty(follower.ReadNewLines());
        File.WriteAllBytes(path, [.. "s:1 trl:9.0 é"u8[..^1]]); // shorter: a new run; ends inside a UTF-8 character
        Assert.Empty(follower.ReadNewLines());
        File.AppendAllBytes(path, [.. "é"u8[^1..], (byte)'\n']);
        Assert.Equal(["s:1 trl:9.0 é"], follower.ReadNewLines());
    }
}
