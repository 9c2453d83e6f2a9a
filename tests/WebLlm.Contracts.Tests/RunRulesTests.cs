namespace WebLlm.Contracts.Tests;

public class RunRulesTests
{
    [Fact]
    public void Blank_values_are_the_servers_defaults_and_break_no_rule()
    {
        Assert.Empty(RunRules.Check(new CreateRunRequest()));
        Assert.Empty(RunRules.Check(new CreateRunRequest(), new RunLimits(), valTokens: 10));
    }

    [Fact]
    public void Caps_are_checked_only_with_a_servers_limits()
    {
        var big = new CreateRunRequest { NLayer = 49, BlockSize = 2048, MaxSteps = 5_000_000, SampleTokens = 3000 };
        Assert.Empty(RunRules.Check(big)); // the form: the server's caps are its own
        var errors = RunRules.Check(big, new RunLimits());
        Assert.Equal("n_layer must be between 1 and 48 (got 49)", Assert.Single(errors["nLayer"]));
        Assert.Equal("block size must be between 1 and 1024 (got 2048)", Assert.Single(errors["blockSize"]));
        Assert.Equal("max steps must be between 1 and 1000000 (got 5000000)", Assert.Single(errors["maxSteps"]));
        Assert.Equal("sample tokens must be between 1 and 2000 (got 3000)", Assert.Single(errors["sampleTokens"]));
        Assert.Equal(["blockSize", "maxSteps", "nLayer", "sampleTokens"], errors.Keys.Order());
    }

    [Fact]
    public void Shape_and_optimizer_rules_hold_on_both_sides_with_every_field_named()
    {
        var bad = new CreateRunRequest
        {
            NEmbd = 100, NHead = 3, NLayer = 0, Dropout = 1, LearningRate = 2, WarmupSteps = 50, MaxSteps = 10,
            WeightDecay = double.NaN, GradClip = -1, EvalEvery = -1, EvalBatches = 0, CheckpointEvery = -5,
            SamplePrompts = ["ok", ""], Name = new string('x', 101),
        };
        foreach (var errors in new[] { RunRules.Check(bad), RunRules.Check(bad, new RunLimits()) })
        {
            Assert.Contains("n_embd (100) must be divisible by n_head (3)", errors["nHead"]);
            Assert.Contains("n_layer", errors["nLayer"][0]);
            Assert.Equal("dropout must be in [0, 1) (got 1)", errors["dropout"][0]);
            Assert.Equal("learning rate must be positive, finite and at most 1 (got 2)", errors["learningRate"][0]);
            Assert.Equal("warmup steps must be between 0 and 10 (got 50)", errors["warmupSteps"][0]);
            Assert.Contains("weight decay", errors["weightDecay"][0]);
            Assert.Contains("gradient clip", errors["gradClip"][0]);
            Assert.Equal("eval every (0 = off) must be at least 0 (got -1)", errors["evalEvery"][0]);
            Assert.Contains("eval batches", errors["evalBatches"][0]);
            Assert.Contains("checkpoint every", errors["checkpointEvery"][0]);
            Assert.Equal("sample prompts must not be empty", errors["samplePrompts"][0]);
            Assert.Equal("name must be at most 100 characters (got 101)", errors["name"][0]);
        }
    }

    [Theory]
    [InlineData(0.01, 0.5, "min learning rate must be between 0 and the learning rate 0.01 (got 0.5)")]
    [InlineData(null, -1.0, "min learning rate must be 0 or more and finite (got -1)")]
    public void The_minimum_learning_rate_is_checked_against_the_learning_rate_when_it_is_given(double? lr, double min, string message)
    {
        Assert.Equal(message, RunRules.Check(new CreateRunRequest { LearningRate = lr, MinLearningRate = min })["minLearningRate"].Single());
        Assert.Empty(RunRules.Check(new CreateRunRequest { LearningRate = lr, MinLearningRate = 0.0001 }));
    }

    [Fact]
    public void The_context_must_be_shorter_than_the_validation_split()
    {
        Assert.Equal("block size (64) must be smaller than the dataset's validation split (64 tokens)",
            RunRules.Check(new CreateRunRequest { BlockSize = 64 }, valTokens: 64)["blockSize"].Single());
        Assert.Empty(RunRules.Check(new CreateRunRequest { BlockSize = 63 }, valTokens: 64));
    }
}
