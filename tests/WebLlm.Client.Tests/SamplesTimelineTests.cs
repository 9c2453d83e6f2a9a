using Bunit;
using WebLlm.Client.Components;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

public class SamplesTimelineTests : ClientTestContext
{
    private static readonly DateTime T = DateTime.UtcNow;

    private static SampleDto[] Samples() =>
    [
        new(250, "\n", "\nfirst words", T), new(500, "\n", "\nbetter words", T), new(750, "\n", "\nbest words", T),
        new(250, "The ", "The cat", T), new(500, "The ", "The cat sat", T),
    ];

    [Fact]
    public void Shows_the_newest_sample_per_prompt_with_whitespace_prompts_visible()
    {
        var cut = Render<SamplesTimeline>(p => p.Add(s => s.Samples, Samples()));

        var prompts = cut.FindAll("[data-testid=sample-prompt]");
        Assert.Equal(2, prompts.Count);
        Assert.Contains("⏎", prompts[0].TextContent);
        Assert.Contains("3 samples", prompts[0].TextContent);
        Assert.Equal(["step 750", "step 500"], cut.FindAll("[data-testid=sample-step]").Select(e => e.TextContent));
        Assert.Contains("best words", cut.FindAll("[data-testid=sample-text]")[0].TextContent);
    }

    [Fact]
    public void Side_by_side_shows_two_steps_of_each_prompt()
    {
        var cut = Render<SamplesTimeline>(p => p.Add(s => s.Samples, Samples()));

        var toggle = cut.Find("[data-testid=samples-compare]");
        (toggle.TagName == "INPUT" ? toggle : toggle.QuerySelector("input")!).Change(true);

        var steps = cut.FindAll("[data-testid=sample-step]").Select(e => e.TextContent).ToList();
        Assert.Equal(["step 750", "step 500", "step 500", "step 250"], steps);
    }

    [Fact]
    public void Says_so_when_there_are_no_samples()
    {
        var cut = Render<SamplesTimeline>(p => p.Add(s => s.Samples, Array.Empty<SampleDto>()));
        Assert.NotNull(cut.Find("[data-testid=samples-empty]"));
    }
}
