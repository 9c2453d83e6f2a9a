using Microsoft.JSInterop;

namespace WebLlm.Client.Services;

/// <summary>
/// The server's API key, if it wants one: kept in localStorage (<see cref="StorageKey"/>), sent as
/// <c>Authorization: Bearer</c> on every REST call and as the hub's access token. When a call answers 401
/// <c>unauthorized</c>, <see cref="RequestKeyAsync"/> asks the user once (concurrent callers share the one prompt).
/// </summary>
public sealed class ApiKeyStore(IJSRuntime js)
{
    public const string StorageKey = "webllm.apiKey";

    private Task? _loading;
    private Task<bool>? _asking;

    public string? Key { get; private set; }

    /// <summary>Shows the prompt and returns the key entered, or null when the user cancelled. Set by the layout.</summary>
    public Func<Task<string?>>? Prompter { get; set; }

    public event Action? Changed;

    /// <summary>Reads the stored key once.</summary>
    public Task EnsureLoadedAsync() => _loading ??= LoadAsync();

    /// <summary>Asks for a key (one prompt at a time); true when a new key is known.</summary>
    public Task<bool> RequestKeyAsync()
    {
        if (_asking is { IsCompleted: false } pending)
        {
            return pending;
        }
        return _asking = AskAsync();
    }

    public async Task SetAsync(string key)
    {
        Key = key;
        await TryJs("localStorage.setItem", StorageKey, key);
        Changed?.Invoke();
    }

    public async Task ForgetAsync()
    {
        Key = null;
        await TryJs("localStorage.removeItem", StorageKey);
        Changed?.Invoke();
    }

    private async Task<bool> AskAsync()
    {
        if (Prompter is not { } prompt || await prompt() is not { Length: > 0 } key)
        {
            return false;
        }
        await SetAsync(key.Trim());
        return true;
    }

    private async Task LoadAsync()
    {
        try
        {
            if (Key is null && await js.InvokeAsync<string?>("localStorage.getItem", StorageKey) is { Length: > 0 } stored)
            {
                Key = stored;
            }
        }
        catch (JSException)
        {
            // No storage (private mode, prerendering): the key lives for this session only.
        }
    }

    private async Task TryJs(string identifier, params object?[] args)
    {
        try
        {
            await js.InvokeVoidAsync(identifier, args);
        }
        catch (JSException)
        {
        }
    }
}
