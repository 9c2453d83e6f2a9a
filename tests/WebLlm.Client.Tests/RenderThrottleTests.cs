using Bunit;
using Microsoft.AspNetCore.Components;
using WebLlm.Client.Components;
using WebLlm.Client.Services;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class RenderThrottleTests : ClientTestContext
{
    private static readonly DateTime Noon = new(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void Renders_that_wait_land_on_whole_intervals_of_the_clock()
    {
        // Two regions that last rendered at different moments render together from then on, never sooner than the gap.
        Assert.Equal(Noon.AddSeconds(3), RenderThrottle.NextRender(Noon.AddSeconds(1.3), Second, Second));
        Assert.Equal(Noon.AddSeconds(3), RenderThrottle.NextRender(Noon.AddSeconds(1.95), Second, Second));
        // A timer that fired a little late does not skip a second.
        Assert.Equal(Noon.AddSeconds(3), RenderThrottle.NextRender(Noon.AddSeconds(2.02), Second, Second));
        // A slow render stretches the gap, still to a whole interval.
        Assert.Equal(Noon.AddSeconds(5), RenderThrottle.NextRender(Noon.AddSeconds(2), TimeSpan.FromSeconds(2.5), Second));
    }

    [Fact]
    public void The_first_render_is_not_held_back()
    {
        Assert.True(RenderThrottle.NextRender(DateTime.MinValue, Second, Second) < DateTime.UtcNow);
    }

    [Fact]
    public void A_live_region_re_renders_its_content_when_the_store_changes_without_its_parent()
    {
        UseServer(_ => FakeHandler.Json(Array.Empty<object>()));
        var parentRenders = 0;
        var contentRenders = 0;
        var cut = Render(builder =>
        {
            parentRenders++;
            builder.OpenComponent<LiveRegion>(0);
            builder.AddAttribute(1, nameof(LiveRegion.ChildContent), (RenderFragment)(b => b.AddContent(0, $"content {++contentRenders}")));
            builder.CloseComponent();
        });
        Assert.Equal(1, contentRenders);

        var store = Services.GetService(typeof(RunStore)) as RunStore;
        cut.InvokeAsync(() => store!.Apply(Run(1)));

        cut.WaitForAssertion(() => Assert.Equal(2, contentRenders));
        Assert.Equal(1, parentRenders);
        Assert.Contains("content 2", cut.Markup);
    }
}
