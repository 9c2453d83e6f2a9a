using WebLlm.Client.Services;

namespace WebLlm.Client.Tests;

public class SnapshotFeedTests
{
    [Fact]
    public async Task Pushes_during_a_read_wait_for_it_and_a_rejoin_during_a_read_reads_once_more()
    {
        var feed = new SnapshotFeed();
        var log = new List<string>();
        var firstRead = new TaskCompletionSource();
        int reads = 0;
        Task Read()
        {
            log.Add($"read {++reads}");
            return reads == 1 ? firstRead.Task : Task.CompletedTask;
        }

        var loading = feed.LoadAsync(Read, loaded: () => log.Add("loaded"), watched: () => true);
        Assert.False(feed.Push(() => log.Add("push a")));
        Assert.False(feed.Push(() => log.Add("push b")));
        await feed.LoadAsync(Read, loaded: () => log.Add("never"), watched: () => true); // a reconnect's join: asks again
        Assert.Equal(["read 1"], log);

        firstRead.SetResult();
        await loading;
        Assert.Equal(["read 1", "push a", "push b", "loaded", "read 2", "loaded"], log);
        Assert.True(feed.Push(() => log.Add("push c"))); // nothing loading: applied at once
        Assert.Equal("push c", log[^1]);
    }

    [Fact]
    public async Task No_second_read_once_nobody_watches_and_pushes_still_apply_after_a_failed_read()
    {
        var feed = new SnapshotFeed();
        var log = new List<string>();
        var read = new TaskCompletionSource();
        var loading = feed.LoadAsync(() => read.Task, loaded: () => log.Add("loaded"), watched: () => false);
        feed.Push(() => log.Add("push"));
        await feed.LoadAsync(() => Task.CompletedTask, () => log.Add("never"), () => false);
        read.SetException(new HttpRequestException("down"));
        await Assert.ThrowsAsync<HttpRequestException>(() => loading);
        Assert.Equal(["push", "loaded"], log);
    }
}
