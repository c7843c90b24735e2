// Embedded mode: the Api, the /v2/ registry endpoints and the Builder worker in one web host.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWaveApi();
builder.AddWaveRegistryProxy();
builder.AddWaveBuilder();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapWaveApi();
app.MapWaveRegistryProxy();
app.MapWaveBuilder();

app.Run();
