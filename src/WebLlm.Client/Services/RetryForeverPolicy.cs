using Microsoft.AspNetCore.SignalR.Client;

namespace WebLlm.Client.Services;

/// <summary>Never gives up: 0, 0.5, 1, 2, 4 s, then every <see cref="MaxDelay"/>.</summary>
public sealed class RetryForeverPolicy : IRetryPolicy
{
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(5);

    public TimeSpan? NextRetryDelay(RetryContext retryContext) => DelayFor(retryContext.PreviousRetryCount);

    public static TimeSpan DelayFor(long previousRetries) => previousRetries switch
    {
        0 => TimeSpan.Zero,
        < 4 => TimeSpan.FromMilliseconds(500 * Math.Pow(2, previousRetries - 1)),
        _ => MaxDelay,
    };
}
